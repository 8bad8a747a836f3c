//! What each variant renders, decided once from the AST: its message
//! template, the fields that go to `details` and under which keys, whether
//! it is retryable. The `ApiError` impl, the `FromRemote` impl and the
//! catalog all read the same plan, so they cannot disagree.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::{Field, Input, Variant};
use crate::ctxt::Ctxt;
use crate::fmt::{self, Template};
use crate::symbol::ERROR;

/// What one variant renders, decided once and read by every method.
pub(super) struct Plan<'v, 'a> {
    pub(super) variant: &'v Variant<'a>,
    pub(super) template: Option<Template>,
    pub(super) details: Vec<Detail<'v, 'a>>,
    /// The field whose messages the envelope's `errors` list shows, if
    /// shown: on a 5xx only when `expose`d, as details.
    pub(super) errors: Option<&'v Field<'a>>,
    pub(super) retryable: bool,
}

pub(super) enum Detail<'v, 'a> {
    Entry(String, &'v Field<'a>),
    Flatten(&'v Field<'a>),
}

impl<'v, 'a> Detail<'v, 'a> {
    pub(super) fn field(&self) -> &'v Field<'a> {
        match self {
            Detail::Entry(_, f) | Detail::Flatten(f) => f,
        }
    }
}

/// Whether a message shows only what its client may read: never the
/// error's cause, and on a 5xx only fields marked `expose` (or the retry
/// delay, which `Retry-After` sends anyway), as its details do. Each
/// field that breaks the rule is reported at the message.
fn shows_only_public(
    cx: &Ctxt,
    lit: &syn::LitStr,
    template: &fmt::Template,
    fields: &[Field<'_>],
    server_error: bool,
) -> bool {
    let mut ok = true;
    let mut reported = Vec::new();
    let shown = template.uses.iter().map(|&(index, _)| index);
    for index in shown.chain(template.counts.iter().copied()) {
        let Some(field) = fields.get(index) else {
            continue;
        };
        if reported.contains(&index) {
            continue;
        }
        let name = field.name();
        if field.is_cause {
            cx.error_spanned_by(lit, format!("the message shows `{{{name}}}`, the error's cause, which never leaves the server; say what the client should read instead"));
        } else if server_error && field.attrs.expose.is_none() && field.attrs.retry_after.is_none()
        {
            cx.error_spanned_by(lit, format!("a 5xx shows the client only the fields marked `expose`, and the message shows `{{{name}}}`; mark the field `#[api(expose)]` if the client may read it, or leave it out of the message"));
        } else {
            continue;
        }
        reported.push(index);
        ok = false;
    }
    ok
}

/// A 4xx without `message` is sent its `Display`: one that shows the
/// error's cause (thiserror's `#[error("... {0}")]` on a `#[source]`
/// field, or `#[error(transparent)]`) would send the cause, which never
/// leaves the server, as `message = "{source}"` would. Reported at the
/// `#[error]`.
fn display_hides_cause(cx: &Ctxt, variant: &Variant<'_>) {
    for attr in variant.original_attrs {
        if !attr.path().is_ident(ERROR) {
            continue;
        }
        // A format string, `transparent`, or something else (thiserror's
        // `fmt = path`), which is not read.
        let Ok(shown) = attr.parse_args_with(|input: syn::parse::ParseStream<'_>| {
            let shown = if input.peek(syn::LitStr) {
                Some(Ok(input.parse::<syn::LitStr>()?))
            } else if input.peek(syn::Ident) && input.peek2(syn::parse::End) {
                let ident: syn::Ident = input.parse()?;
                (ident == "transparent").then_some(Err(()))
            } else {
                None
            };
            let _rest: proc_macro2::TokenStream = input.parse()?;
            Ok(shown)
        }) else {
            continue;
        };
        let Some(shown) = shown else { continue };
        let Ok(lit) = shown else {
            // `#[error(transparent)]`: the cause's own `Display`.
            if variant.fields.iter().any(|f| f.is_cause) {
                cx.error_spanned_by(attr, "this 4xx has no `message`, so its client is sent its `Display`, which `#[error(transparent)]` makes its cause's: the cause never leaves the server; set `message = \"...\"` to what the client should read");
            }
            continue;
        };
        let text = lit.value();
        for name in placeholders(&text) {
            if let Some(cause) = variant
                .fields
                .iter()
                .find(|f| f.is_cause && f.name() == name)
            {
                cx.error_spanned_by(&lit, format!("this 4xx has no `message`, so its client is sent its `Display`, which shows `{{{}}}`, the error's cause: the cause never leaves the server; set `message = \"...\"` to what the client should read", cause.name()));
                break;
            }
        }
    }
}

/// The names (or indexes) a format string's placeholders show, `{{`
/// escapes left out.
fn placeholders(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        if let Some(escaped) = after.strip_prefix('{') {
            rest = escaped;
            continue;
        }
        let Some(close) = after.find('}') else { break };
        let inside = &after[..close];
        let name = inside.split(':').next().unwrap_or("").trim();
        names.push(name);
        rest = &after[close + 1..];
    }
    names
}

impl<'v, 'a> Plan<'v, 'a> {
    /// Decides what `variant` renders; a bad message template is reported
    /// to `cx`.
    pub(super) fn new(cx: &Ctxt, input: &Input<'a>, variant: &'v Variant<'a>) -> Self {
        let status = variant.attrs.status.as_ref().map(|s| s.value.code);
        let server_error = status.is_some_and(|s| s >= 500);
        if status.is_some_and(|s| s < 500)
            && variant.attrs.message.is_none()
            && variant.attrs.transparent.is_none()
        {
            display_hides_cause(cx, variant);
        }
        let template = variant.attrs.message.as_ref().and_then(|m| {
            let template = fmt::parse(cx, &m.value, &variant.ident.to_string(), &variant.fields)?;
            shows_only_public(cx, &m.value, &template, &variant.fields, server_error)
                .then_some(template)
        });
        let rename_all = input.attrs.rename_all.as_ref().map(|c| c.value);
        let shown = |f: &&Field<'a>| !server_error || f.attrs.expose.is_some();
        let errors = variant
            .fields
            .iter()
            .filter(|_| variant.attrs.transparent.is_none())
            .filter(shown)
            .find(|f| f.attrs.errors.is_some());
        let details: Vec<Detail<'v, 'a>> = variant
            .fields
            .iter()
            .filter(|_| variant.attrs.transparent.is_none())
            .filter(|f| f.attrs.skip.is_none() && f.attrs.rate_limit.is_none() && !f.is_cause)
            .filter(shown)
            .filter_map(|f| {
                if f.attrs.flatten.is_some() {
                    return Some(Detail::Flatten(f));
                }
                let key = match (&f.attrs.rename, &f.member, f.attrs.errors.is_some()) {
                    (Some(rename), _, _) => rename.value.value(),
                    (None, _, true) => "errors".to_owned(),
                    (None, syn::Member::Unnamed(_), false) => return None,
                    (None, syn::Member::Named(_), false) => match rename_all {
                        Some(case) => case.apply(&f.name()),
                        None => f.name(),
                    },
                };
                Some(Detail::Entry(key, f))
            })
            .collect();
        // Two fields under one key would write it twice in the JSON (and
        // document one of them).
        for (at, detail) in details.iter().enumerate() {
            if let Detail::Entry(key, field) = detail {
                let clash = details[..at].iter().find_map(|earlier| match earlier {
                    Detail::Entry(other, first) if other == key => Some(first.name()),
                    _ => None,
                });
                if let Some(first) = clash {
                    cx.error_spanned_by(
                        &field.member,
                        format!("`{}` and `{first}` are both the detail `{key}`; give one another key with `#[api(rename = \"...\")]`", field.name()),
                    );
                }
            }
        }
        let retryable = match (&variant.attrs.retryable, status) {
            (Some(explicit), _) => explicit.value,
            (None, Some(code)) => crate::status::retryable(code),
            (None, None) => false,
        };
        Plan {
            variant,
            template,
            details,
            errors,
            retryable,
        }
    }

    /// The one field a transparent variant delegates to.
    pub(super) fn transparent(&self) -> Option<&'v Field<'a>> {
        self.variant.attrs.transparent.as_ref()?;
        self.variant.fields.first()
    }

    /// `Self::Variant`, or `Self` for a struct.
    pub(super) fn path(&self) -> TokenStream {
        if self.variant.in_enum {
            let ident = self.variant.ident;
            quote!(Self::#ident)
        } else {
            quote!(Self)
        }
    }

    /// The message of a variant when it needs no formatting: a template without
    /// placeholders, or the reason phrase of a 5xx without `message`.
    pub(super) fn constant_message(&self) -> Option<String> {
        match &self.template {
            Some(template) => template.constant.clone(),
            None => {
                let status = &self.variant.attrs.status.as_ref()?.value;
                if status.code >= 500 {
                    status.reason.map(str::to_owned)
                } else {
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_are_read_as_thiserror_writes_them() {
        assert_eq!(
            placeholders("read {0}: {source:?} {{not}} {name:>5}{}"),
            ["0", "source", "name", ""]
        );
        assert!(placeholders("{{0}} plain").is_empty());
        assert_eq!(placeholders("unclosed {0"), Vec::<&str>::new());
    }
}

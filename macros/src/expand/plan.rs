//! What each variant renders, decided once from the AST: its message
//! template, the fields that go to `details` and under which keys, whether
//! it is retryable. The `ApiError` impl, the `FromRemote` impl and the
//! catalog all read the same plan, so they cannot disagree.

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::{Field, Input, Variant};
use crate::ctxt::Ctxt;
use crate::fmt::{self, Template};

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

impl<'v, 'a> Plan<'v, 'a> {
    /// Decides what `variant` renders; a bad message template is reported
    /// to `cx`.
    pub(super) fn new(cx: &Ctxt, input: &Input<'a>, variant: &'v Variant<'a>) -> Self {
        let status = variant.attrs.status.as_ref().map(|s| s.value.code);
        let server_error = status.is_some_and(|s| s >= 500);
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

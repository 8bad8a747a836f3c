//! Parsing of `#[api(...)]` attributes, one key at a time, reporting each
//! mistake at its key or value and carrying on with the next key.

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::{Attribute, Expr, ExprLit, Ident, Lit, LitStr, Token};

use crate::case::Case;
use crate::ctxt::Ctxt;
use crate::status::{self, Status};
use crate::suggest::{closest, list};
#[allow(clippy::wildcard_imports)] // `symbol` is the list of keys this module parses
use crate::symbol::*;

/// Where an attribute was written; decides which keys it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Enum,
    Struct,
    Variant,
    Field,
}

impl Place {
    fn allows(self, key: &str) -> bool {
        match self {
            Place::Enum => TYPE_KEYS.contains(&key),
            // A struct is a type and its one error at once; `transparent`
            // only makes sense for a variant.
            Place::Struct => {
                TYPE_KEYS.contains(&key)
                    || (VARIANT_KEYS.contains(&key) && key != TRANSPARENT && key != OTHER)
            }
            Place::Variant => VARIANT_KEYS.contains(&key),
            Place::Field => FIELD_KEYS.contains(&key),
        }
    }

    fn keys(self) -> Vec<&'static str> {
        let all = TYPE_KEYS.iter().chain(VARIANT_KEYS).chain(FIELD_KEYS);
        all.copied().filter(|k| self.allows(k)).collect()
    }

    fn name(self) -> &'static str {
        match self {
            Place::Enum => "an enum",
            Place::Struct => "a struct",
            Place::Variant => "a variant",
            Place::Field => "a field",
        }
    }
}

/// Where a key belongs, for the message when it is written elsewhere.
fn home_of(key: &str) -> &'static str {
    if TYPE_KEYS.contains(&key) {
        "belongs on the type (the enum or struct)"
    } else if key == TRANSPARENT {
        "belongs on an enum variant with a single field"
    } else if key == OTHER {
        "belongs on the enum variant that stands for unknown codes"
    } else if key == REJECTION {
        "belongs on the variant (or the struct) that answers the rejection"
    } else if key == TIMEOUT {
        "belongs on the unit variant (or unit struct) an attempt cut off by the retry engine becomes"
    } else if VARIANT_KEYS.contains(&key) {
        "belongs on a variant (or on a struct)"
    } else {
        "belongs on a field"
    }
}

/// A key and what it was set to; the key's span is where mistakes about
/// the key as a whole are reported.
#[derive(Clone)]
pub(crate) struct Keyed<T> {
    pub(crate) key: Ident,
    pub(crate) value: T,
}

impl<T> Keyed<T> {
    pub(crate) fn span(&self) -> Span {
        self.key.span()
    }
}

#[derive(Default)]
pub(crate) struct Attrs {
    pub(crate) envelope: Option<Keyed<syn::Type>>,
    pub(crate) code_case: Option<Keyed<Case>>,
    pub(crate) rename_all: Option<Keyed<Case>>,
    pub(crate) type_base: Option<Keyed<LitStr>>,
    pub(crate) decode: Option<Keyed<()>>,
    /// A function answering rejections with the type's own errors.
    pub(crate) answer_rejections: Option<Keyed<syn::ExprPath>>,

    pub(crate) status: Option<Keyed<Status>>,
    pub(crate) code: Option<Keyed<LitStr>>,
    pub(crate) message: Option<Keyed<LitStr>>,
    pub(crate) retryable: Option<Keyed<bool>>,
    pub(crate) transparent: Option<Keyed<()>>,
    pub(crate) other: Option<Keyed<()>>,
    /// The `rebuff::RejectionKind` variant named, as written.
    pub(crate) rejection: Option<Keyed<Ident>>,
    /// The variant an attempt cut off by the retry engine becomes.
    pub(crate) timeout: Option<Keyed<()>>,

    pub(crate) skip: Option<Keyed<()>>,
    pub(crate) rename: Option<Keyed<LitStr>>,
    pub(crate) flatten: Option<Keyed<()>>,
    pub(crate) retry_after: Option<Keyed<()>>,
    pub(crate) rate_limit: Option<Keyed<()>>,
    pub(crate) errors: Option<Keyed<()>>,
    pub(crate) expose: Option<Keyed<()>>,
    /// The value the field shows in the API document's examples.
    pub(crate) example: Option<Keyed<Expr>>,

    /// Every key written, even one whose value was rejected, so a bad value
    /// is not reported a second time as a missing key.
    pub(crate) written: Vec<String>,
    /// The keys a misspelt one was taken for: not missing either, and not
    /// a duplicate of the key when it is written after all.
    pub(crate) meant: Vec<String>,
}

impl Attrs {
    /// The keys that were set, with their spans, in declaration order of
    /// the struct (not of the source).
    pub(crate) fn set_keys(&self) -> Vec<(&'static str, Span)> {
        let mut out = Vec::new();
        macro_rules! push {
            ($($field:ident => $name:expr),*) => {$(
                if let Some(k) = &self.$field { out.push(($name, k.span())); }
            )*};
        }
        push!(
            envelope => ENVELOPE, code_case => CODE_CASE, rename_all => RENAME_ALL,
            type_base => TYPE_BASE,
            decode => DECODE, answer_rejections => ANSWER_REJECTIONS,
            other => OTHER, status => STATUS, code => CODE, message => MESSAGE,
            retryable => RETRYABLE, transparent => TRANSPARENT, rejection => REJECTION,
            timeout => TIMEOUT, skip => SKIP,
            rename => RENAME, flatten => FLATTEN, retry_after => RETRY_AFTER,
            rate_limit => RATE_LIMIT, errors => ERRORS, expose => EXPOSE, example => EXAMPLE
        );
        out
    }
}

/// Parses every `#[api(...)]` among `attrs` written at `place`.
pub(crate) fn parse(cx: &Ctxt, attrs: &[Attribute], place: Place) -> Attrs {
    let mut out = Attrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(API)) {
        if let syn::Meta::Path(_) = attr.meta {
            cx.error_spanned_by(
                attr,
                format!("expected `#[{API}(...)]` with at least one key, e.g. `#[{API}({STATUS} = 404)]`"),
            );
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta {
            cx.error_at(
                nv.eq_token.spans[0],
                format!("expected `#[{API}(...)]`, not `#[{API} = ...]`"),
            );
            continue;
        }
        let result = attr.parse_nested_meta(|meta| parse_key(cx, &meta, place, &mut out));
        if let Err(err) = result {
            cx.syn_error(err);
        }
    }
    out
}

fn parse_key(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    place: Place,
    out: &mut Attrs,
) -> syn::Result<()> {
    let Some(key) = meta.path.get_ident().cloned() else {
        cx.error_spanned_by(
            &meta.path,
            format!(
                "expected a key of `{API}`, not a path; expected one of {}",
                list(place.keys())
            ),
        );
        return skip_value(meta);
    };
    let name = key.to_string();
    let known = TYPE_KEYS.contains(&name.as_str())
        || VARIANT_KEYS.contains(&name.as_str())
        || FIELD_KEYS.contains(&name.as_str());
    if !known {
        let keys = place.keys();
        let mut msg = format!(
            "unknown `{API}` attribute `{name}`; expected one of {}",
            list(&keys)
        );
        if let Some(close) = closest(&name, &keys) {
            // A misspelt key was still meant: don't also report it missing.
            out.meant.push(close.to_owned());
            msg = format!(
                "unknown `{API}` attribute `{name}`; did you mean `{close}`? (expected one of {})",
                list(&keys)
            );
        }
        cx.error_at(key.span(), msg);
        return skip_value(meta);
    }
    if !place.allows(&name) {
        cx.error_at(
            key.span(),
            format!(
                "`{name}` cannot be used on {}: it {}",
                place.name(),
                home_of(&name)
            ),
        );
        return skip_value(meta);
    }

    if out.written.contains(&name) {
        cx.error_at(
            key.span(),
            format!("duplicate `{API}` attribute `{name}`; remove one"),
        );
        return skip_value(meta);
    }
    out.written.push(name.clone());

    macro_rules! set {
        ($field:ident, $value:expr) => {{
            match $value {
                Some(value) => out.$field = Some(Keyed { key, value }),
                None => {}
            }
        }};
    }

    match name.as_str() {
        ENVELOPE => set!(
            envelope,
            path_value::<syn::Type>(cx, meta, &name, "rebuff::envelope::Flat")?
        ),
        ANSWER_REJECTIONS => set!(
            answer_rejections,
            path_value::<syn::ExprPath>(cx, meta, &name, "my_rejections")?
        ),
        // Read on its own (`reroot::crate_of`), for the error path too:
        // here only checked.
        CRATE => {
            path_value::<syn::Path>(cx, meta, &name, "my_common::rebuff")?;
        }
        CODE_CASE => set!(code_case, case_value(cx, meta, &name)?),
        RENAME_ALL => set!(rename_all, case_value(cx, meta, &name)?),
        TYPE_BASE => set!(type_base, type_base_value(cx, meta)?),
        STATUS => set!(status, status_value(cx, meta)?),
        CODE => set!(code, code_value(cx, meta)?),
        MESSAGE => set!(
            message,
            string_value(cx, meta, &format!("{MESSAGE} = \"Lead not found\""))?
        ),
        RENAME => set!(
            rename,
            nonempty_string(cx, meta, &format!("{RENAME} = \"leadId\""))?
        ),
        RETRYABLE => set!(retryable, bool_flag(cx, meta)?),
        TRANSPARENT => set!(transparent, flag(cx, meta, &name)?),
        DECODE => set!(decode, flag(cx, meta, &name)?),
        OTHER => set!(other, flag(cx, meta, &name)?),
        REJECTION => set!(rejection, rejection_value(cx, meta)?),
        TIMEOUT => set!(timeout, flag(cx, meta, &name)?),
        SKIP => set!(skip, flag(cx, meta, &name)?),
        FLATTEN => set!(flatten, flag(cx, meta, &name)?),
        RETRY_AFTER => set!(retry_after, flag(cx, meta, &name)?),
        RATE_LIMIT => set!(rate_limit, flag(cx, meta, &name)?),
        ERRORS => set!(errors, flag(cx, meta, &name)?),
        EXPOSE => set!(expose, flag(cx, meta, &name)?),
        EXAMPLE => set!(example, example_value(cx, meta)?),
        _ => unreachable!("every known key is matched"),
    }
    Ok(())
}

/// Consumes `= value` or `(...)` after a key that was already reported, so
/// the keys after it are still checked.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let _: Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
    }
    Ok(())
}

fn value_expr(meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Expr>> {
    if meta.input.peek(Token![=]) {
        Ok(Some(meta.value()?.parse()?))
    } else {
        Ok(None)
    }
}

fn flag(cx: &Ctxt, meta: &ParseNestedMeta<'_>, name: &str) -> syn::Result<Option<()>> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{name}` takes no value: write `#[{API}({name})]`"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    Ok(Some(()))
}

fn bool_flag(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<bool>> {
    match value_expr(meta)? {
        None => Ok(Some(true)),
        Some(Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        })) => Ok(Some(b.value)),
        Some(other) => {
            cx.error_spanned_by(
                other,
                format!("expected `true` or `false`: `{RETRYABLE} = false`, or `{RETRYABLE}` alone for true"),
            );
            Ok(None)
        }
    }
}

/// A key's value that is a path (a type, a function), with a message of
/// its own when it is missing or written as a string.
fn path_value<T: syn::parse::Parse>(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    name: &str,
    example: &str,
) -> syn::Result<Option<T>> {
    if !meta.input.peek(Token![=]) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{name}` needs a value: `{name} = {example}`"),
        );
        return skip_value(meta).map(|()| None);
    }
    let value = meta.value()?;
    if value.peek(LitStr) {
        let lit: LitStr = value.parse()?;
        cx.error_spanned_by(
            &lit,
            format!("`{name}` takes a path, not a string: `{name} = {example}`"),
        );
        return Ok(None);
    }
    value.parse().map(Some)
}

fn string_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    example: &str,
) -> syn::Result<Option<LitStr>> {
    let name = meta
        .path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_default();
    match value_expr(meta)? {
        Some(Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        })) => Ok(Some(s)),
        Some(other) => {
            cx.error_spanned_by(other, format!("expected a string literal: `{example}`"));
            Ok(None)
        }
        None => {
            cx.error_spanned_by(&meta.path, format!("`{name}` needs a value: `{example}`"));
            Ok(None)
        }
    }
}

fn nonempty_string(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    example: &str,
) -> syn::Result<Option<LitStr>> {
    let Some(lit) = string_value(cx, meta, example)? else {
        return Ok(None);
    };
    if lit.value().is_empty() {
        cx.error_spanned_by(&lit, format!("expected a non-empty string: `{example}`"));
        return Ok(None);
    }
    Ok(Some(lit))
}

fn code_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<LitStr>> {
    let Some(lit) = nonempty_string(cx, meta, &format!("{CODE} = \"lead_not_found\""))? else {
        return Ok(None);
    };
    if let Some(bad) = lit
        .value()
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '"' || *c == '\\')
    {
        cx.error_spanned_by(
            &lit,
            format!("error codes are matched by machines: {bad:?} is not allowed; no whitespace, control characters, `\"` or `\\`"),
        );
        return Ok(None);
    }
    Ok(Some(lit))
}

fn case_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>, name: &str) -> syn::Result<Option<Case>> {
    let Some(lit) = string_value(cx, meta, &format!("{name} = \"camelCase\""))? else {
        return Ok(None);
    };
    match Case::from_name(&lit.value()) {
        Some(case) => Ok(Some(case)),
        None => {
            cx.error_spanned_by(
                &lit,
                format!(
                    "unknown case `{}`; expected one of {}",
                    lit.value(),
                    Case::expected()
                ),
            );
            Ok(None)
        }
    }
}

fn type_base_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<LitStr>> {
    let example = format!("{TYPE_BASE} = \"https://api.example.com/errors/\"");
    let Some(lit) = nonempty_string(cx, meta, &example)? else {
        return Ok(None);
    };
    let value = lit.value();
    let scheme_ok = value.split_once(':').is_some_and(|(scheme, _)| {
        scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if !scheme_ok || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        cx.error_spanned_by(
            &lit,
            format!("`{TYPE_BASE}` must be an absolute URI without spaces: `{example}`"),
        );
        return Ok(None);
    }
    Ok(Some(lit))
}

/// `example = <expression>`: any expression; whether it fits the field's
/// type is rustc's to say, at the expression.
fn example_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Expr>> {
    if meta.input.peek(syn::token::Paren) {
        cx.error_spanned_by(
            &meta.path,
            format!("write `{EXAMPLE} = ...`, not `{EXAMPLE}(...)`: `{EXAMPLE} = \"lead_123\"`"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    match value_expr(meta)? {
        Some(expr) => Ok(Some(expr)),
        None => {
            cx.error_spanned_by(
                &meta.path,
                format!("`{EXAMPLE}` needs a value, the field's value in the API document's examples: `{EXAMPLE} = \"lead_123\"`"),
            );
            Ok(None)
        }
    }
}

/// `rejection = NotFound`: the name of a `rebuff::RejectionKind` variant.
/// Whether it names one is left to rustc, which reports a typo at the
/// identifier with the closest variant.
fn rejection_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Ident>> {
    let example = format!("`{REJECTION} = NotFound` (a variant of `rebuff::RejectionKind`)");
    let Some(expr) = value_expr(meta)? else {
        cx.error_spanned_by(
            &meta.path,
            format!("`{REJECTION}` needs a value: {example}"),
        );
        return Ok(None);
    };
    if let Expr::Path(path) = &expr {
        if path.qself.is_none() && path.attrs.is_empty() {
            if let Some(ident) = path.path.get_ident() {
                return Ok(Some(ident.clone()));
            }
            if let Some(last) = path.path.segments.last() {
                cx.error_spanned_by(
                    &path.path,
                    format!(
                        "write the rejection's name alone: `{REJECTION} = {}`",
                        last.ident
                    ),
                );
                return Ok(None);
            }
        }
    }
    let what = match &expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(_), ..
        }) => "a name, not a string",
        _ => "the name of a rejection",
    };
    cx.error_spanned_by(&expr, format!("expected {what}: {example}"));
    Ok(None)
}

fn status_value(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Status>> {
    let Some(expr) = value_expr(meta)? else {
        cx.error_spanned_by(
            &meta.path,
            format!("`{STATUS}` needs a value: {}", status::HELP),
        );
        return Ok(None);
    };
    Ok(Status::from_expr(cx, &expr))
}

/// The `#[error("...")]` text of thiserror on this item, if any: the
/// catalog's message for a 4xx that shows its `Display`.
pub(crate) fn error_text(attrs: &[Attribute]) -> Option<String> {
    let attr = attrs.iter().find(|a| a.path().is_ident(ERROR))?;
    attr.parse_args_with(|input: ParseStream<'_>| {
        let lit: LitStr = input.parse()?;
        let _rest: TokenStream = input.parse()?;
        Ok(lit.value())
    })
    .ok()
}

/// The doc comment of an item, lines joined with single spaces.
pub(crate) fn docs(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident(DOC) {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta {
            if let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
            {
                lines.push(s.value().trim().to_owned());
            }
        }
    }
    lines.retain(|l| !l.is_empty());
    lines.join(" ")
}

/// Whether the item is thiserror's `#[error(transparent)]`: its one field
/// is the error's cause, whose text and source it forwards.
pub(crate) fn is_error_transparent(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident(ERROR)
            && a.parse_args_with(|input: ParseStream<'_>| {
                let word: syn::Ident = input.parse()?;
                Ok(word == "transparent" && input.is_empty())
            })
            .unwrap_or(false)
    })
}

/// Whether thiserror treats this field as the error's cause: its text must
/// never reach `details`.
pub(crate) fn is_cause(field: &syn::Field) -> bool {
    field.attrs.iter().any(|a| {
        a.path().is_ident(SOURCE) || a.path().is_ident(FROM) || a.path().is_ident(BACKTRACE)
    }) || field
        .ident
        .as_ref()
        .is_some_and(|i| i == SOURCE || i == BACKTRACE)
}

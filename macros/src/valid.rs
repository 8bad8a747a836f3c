//! Rules that look at more than one attribute at a time. Each rule is one
//! function; all of them run, so every mistake is reported in one build.

use std::collections::BTreeMap;

use proc_macro2::Span;
use syn::Member;

use crate::ast::{Field, Input, Variant};
use crate::attr::Attrs;
use crate::ctxt::Ctxt;
use crate::symbol::{
    CODE, DECODE, ERRORS, EXPOSE, FLATTEN, OTHER, RATE_LIMIT, REJECTION, RENAME, RETRY_AFTER, SKIP,
    STATUS, TIMEOUT, TRANSPARENT,
};

/// Runs every rule over `input`, each reporting its mistakes to `cx`.
pub(crate) fn validate(cx: &Ctxt, input: &Input<'_>) {
    for variant in input.variants() {
        status_present(cx, variant);
        transparent_shape(cx, variant);
        one_of_each_role(cx, variant);
        for field in &variant.fields {
            field_keys_agree(cx, variant, field);
        }
    }
    codes_unique(cx, input);
    rejections_unique(cx, input);
    other_variant(cx, input);
    timeout_variant(cx, input);
    decoded_fields_own_their_data(cx, input);
}

/// A decoded value is built from the response, so it cannot borrow: a
/// `&str` detail cannot be read back.
fn decoded_fields_own_their_data(cx: &Ctxt, input: &Input<'_>) {
    if input.attrs.decode.is_none() {
        return;
    }
    // Transparent variants decode through their field's type, and variants
    // with a cause are not decoded at all.
    for variant in input
        .variants()
        .iter()
        .filter(|v| v.attrs.transparent.is_none() && !v.has_cause())
    {
        for field in &variant.fields {
            if field.attrs.skip.is_some() {
                continue;
            }
            if let syn::Type::Reference(reference) = field.ty {
                cx.error_spanned_by(
                    reference,
                    format!("`#[api({DECODE})]` reads this field back from a response, so it must own its data: use an owned type (`String`, not `&str`), or `#[api({SKIP})]` it"),
                );
            }
        }
    }
}

/// `other` is the one variant unknown codes decode into: a unit variant, or
/// a transparent one holding the `RemoteError`; and it needs `decode`.
fn other_variant(cx: &Ctxt, input: &Input<'_>) {
    let others: Vec<&Variant<'_>> = input
        .variants()
        .iter()
        .filter(|v| v.attrs.other.is_some())
        .collect();
    for extra in others.iter().skip(1) {
        let key = extra.attrs.other.as_ref().expect("filtered");
        cx.error_at(
            key.span(),
            format!(
                "only one variant can be `{OTHER}`: unknown codes decode into a single variant"
            ),
        );
    }
    for variant in &others {
        let key = variant.attrs.other.as_ref().expect("filtered");
        if input.attrs.decode.is_none() {
            cx.error_at(
                key.span(),
                format!("`{OTHER}` only matters when decoding: add `#[api({DECODE})]` to the type"),
            );
        }
        if !variant.fields.is_empty() && variant.attrs.transparent.is_none() {
            cx.error_at(
                key.span(),
                format!("an `{OTHER}` variant is a unit variant, or `#[api({TRANSPARENT}, {OTHER})]` with one field that holds the `rebuff::client::RemoteError`"),
            );
        }
    }
}

/// `timeout` marks the one error an attempt cut off by the retry engine
/// becomes: made from nothing, so a unit variant (or unit struct).
fn timeout_variant(cx: &Ctxt, input: &Input<'_>) {
    let marked: Vec<&Variant<'_>> = input
        .variants()
        .iter()
        .filter(|v| v.attrs.timeout.is_some())
        .collect();
    for extra in marked.iter().skip(1) {
        let key = extra.attrs.timeout.as_ref().expect("filtered");
        cx.error_at(
            key.span(),
            format!("only one variant can be `{TIMEOUT}`: an attempt cut off by the retry engine becomes a single error"),
        );
    }
    for variant in &marked {
        let key = variant.attrs.timeout.as_ref().expect("filtered");
        if !variant.fields.is_empty() && variant.attrs.transparent.is_none() {
            cx.error_at(
                key.span(),
                format!("a `{TIMEOUT}` variant has no fields: the retry engine makes it from nothing when it cuts an attempt off"),
            );
        }
    }
}

/// Every error needs a status; only a transparent variant borrows its
/// field's.
fn status_present(cx: &Ctxt, variant: &Variant<'_>) {
    let attrs = &variant.attrs;
    let written = |key: &str| attrs.written.iter().chain(&attrs.meant).any(|k| k == key);
    if !written(STATUS) && !written(TRANSPARENT) {
        let hint = if variant.in_enum {
            format!(", or `#[api({TRANSPARENT})]` to delegate to its field")
        } else {
            String::new()
        };
        let what = if variant.in_enum { "variant" } else { "struct" };
        cx.error_at(
            variant.ident.span(),
            format!(
                "missing status on {what} `{}`; add `#[api({STATUS} = 404)]` (any 4xx or 5xx){hint}",
                variant.ident
            ),
        );
    }
}

/// `transparent` hands everything to the one field, so it takes no other
/// key, and its field takes none either.
fn transparent_shape(cx: &Ctxt, variant: &Variant<'_>) {
    let Some(transparent) = &variant.attrs.transparent else {
        return;
    };
    if variant.fields.len() != 1 {
        cx.error_at(
            transparent.span(),
            format!(
                "`{TRANSPARENT}` needs exactly one field, the error to delegate to; `{}` has {}",
                variant.ident,
                variant.fields.len()
            ),
        );
    }
    for (key, span) in variant.attrs.set_keys() {
        if key != TRANSPARENT && key != OTHER {
            cx.error_at(span, format!("`{key}` cannot be combined with `{TRANSPARENT}`: a transparent variant takes everything from its field"));
        }
    }
    for field in &variant.fields {
        for (key, span) in field.attrs.set_keys() {
            cx.error_at(
                span,
                format!("`{key}` has no effect on the field of a transparent variant; remove it"),
            );
        }
    }
}

/// A variant has one delay, one rate limit and one list of messages.
fn one_of_each_role(cx: &Ctxt, variant: &Variant<'_>) {
    for role in [RETRY_AFTER, RATE_LIMIT, ERRORS] {
        let spans = variant
            .fields
            .iter()
            .filter_map(|f| key_span(&f.attrs, role));
        for span in spans.skip(1) {
            cx.error_at(
                span,
                format!("only one field of `{}` can be `{role}`", variant.ident),
            );
        }
    }
}

/// Where `key` was written among `attrs`, if it was set.
fn key_span(attrs: &Attrs, key: &str) -> Option<Span> {
    attrs
        .set_keys()
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, span)| span)
}

/// Pairs of field keys that contradict each other, and why.
const CONFLICTS: &[(&str, &str, &str)] = &[
    (SKIP, RENAME, "a skipped field has no key"),
    (SKIP, FLATTEN, "a skipped field is not in details"),
    (SKIP, EXPOSE, "a skipped field is never shown"),
    (
        FLATTEN,
        RENAME,
        "a flattened field's entries keep their own keys",
    ),
    (
        RATE_LIMIT,
        RENAME,
        "a rate limit goes to the `X-RateLimit-*` headers, not to details",
    ),
    (
        RATE_LIMIT,
        FLATTEN,
        "a rate limit goes to the `X-RateLimit-*` headers, not to details",
    ),
    (RATE_LIMIT, SKIP, "a rate limit is never in details already"),
    (RETRY_AFTER, FLATTEN, "a delay is a single value"),
    (ERRORS, FLATTEN, "a list of messages is a single value"),
];

/// Field keys that contradict each other, or the variant's status.
fn field_keys_agree(cx: &Ctxt, variant: &Variant<'_>, field: &Field<'_>) {
    let a = &field.attrs;
    for (first, second, why) in CONFLICTS {
        if let (Some(_), Some(span)) = (key_span(a, first), key_span(a, second)) {
            cx.error_at(
                span,
                format!("`{second}` cannot be combined with `{first}`: {why}"),
            );
        }
    }

    let status = variant.attrs.status.as_ref().map(|s| s.value.code);
    if let Some(expose) = &a.expose {
        if status.is_some_and(|code| code < 500) {
            cx.error_at(expose.span(), format!("`{EXPOSE}` only matters on a 5xx, whose details are hidden; the details of a 4xx are always shown, so remove it"));
        }
        if matches!(field.member, Member::Unnamed(_)) && a.rename.is_none() && a.flatten.is_none() {
            cx.error_at(expose.span(), format!("an unnamed field has no key in details; add `{RENAME} = \"...\"` to show it, or `{FLATTEN}` to show its entries"));
        }
    }
    if field.is_cause {
        for (key, span) in a.set_keys() {
            if matches!(key, EXPOSE | RENAME | FLATTEN | ERRORS) {
                cx.error_at(span, format!("`{key}` on the error's `source`: the cause of an error is internal and never reaches the client"));
            }
        }
    }
}

/// Two errors with one code cannot be told apart by a client.
fn codes_unique(cx: &Ctxt, input: &Input<'_>) {
    let mut seen: BTreeMap<&str, &syn::Ident> = BTreeMap::new();
    for variant in input.variants() {
        if variant.attrs.transparent.is_some() {
            continue;
        }
        let code = variant.code.as_str();
        if let Some(first) = seen.get(code) {
            let span = match &variant.attrs.code {
                Some(explicit) => explicit.value.span(),
                None => variant.ident.span(),
            };
            cx.error_at(
                span,
                format!("`{}` has the code `{code}` of `{first}` already; give one of them another `{CODE} = \"...\"`", variant.ident),
            );
        } else {
            seen.insert(code, variant.ident);
        }
    }
}

/// The server answers each rejection with one value: two variants cannot
/// both stand for it.
fn rejections_unique(cx: &Ctxt, input: &Input<'_>) {
    let mut seen: BTreeMap<String, &syn::Ident> = BTreeMap::new();
    for variant in input.variants() {
        let Some(rejection) = &variant.attrs.rejection else {
            continue;
        };
        let kind = rejection.value.to_string();
        if let Some(first) = seen.get(&kind) {
            cx.error_at(
                rejection.span(),
                format!("`{first}` answers the `{kind}` rejection already; a rejection is answered by one variant, so remove `{REJECTION} = {kind}` from one of them"),
            );
        } else {
            seen.insert(kind, variant.ident);
        }
    }
}

//! Rules that look at more than one attribute at a time. Each rule is one
//! function; all of them run, so every mistake is reported in one build.

use std::collections::BTreeMap;

use proc_macro2::Span;
use syn::Member;

use crate::ast::{Field, Input, Variant};
use crate::ctxt::Ctxt;

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
}

/// Every error needs a status; only a transparent variant borrows its
/// field's.
fn status_present(cx: &Ctxt, variant: &Variant<'_>) {
    if variant.attrs.status.is_none() && variant.attrs.transparent.is_none() {
        let what = if variant.is_enum_variant {
            "variant"
        } else {
            "struct"
        };
        cx.error_at(
            variant.ident.span(),
            format!(
                "missing status on {what} `{}`; add `#[api(status = 404)]` (any 4xx or 5xx), or `#[api(transparent)]` to delegate to its field",
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
                "`transparent` needs exactly one field, the error to delegate to; `{}` has {}",
                variant.ident,
                variant.fields.len()
            ),
        );
    }
    for (key, span) in variant.attrs.set_keys() {
        if key != "transparent" {
            cx.error_at(span, format!("`{key}` cannot be combined with `transparent`: a transparent variant takes everything from its field"));
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
    let roles: [(&str, fn(&Field<'_>) -> Option<Span>); 3] = [
        ("retry_after", |f| {
            f.attrs.retry_after.as_ref().map(|k| k.span())
        }),
        ("rate_limit", |f| {
            f.attrs.rate_limit.as_ref().map(|k| k.span())
        }),
        ("errors", |f| f.attrs.errors.as_ref().map(|k| k.span())),
    ];
    for (role, get) in roles {
        let spans: Vec<Span> = variant.fields.iter().filter_map(get).collect();
        for span in spans.iter().skip(1) {
            cx.error_at(
                *span,
                format!("only one field of `{}` can be `{role}`", variant.ident),
            );
        }
    }
}

/// Field keys that contradict each other, or the variant's status.
fn field_keys_agree(cx: &Ctxt, variant: &Variant<'_>, field: &Field<'_>) {
    let a = &field.attrs;
    let conflicts: [(&str, Option<Span>, &str, Option<Span>, &str); 9] = [
        (
            "skip",
            a.skip.as_ref().map(|k| k.span()),
            "rename",
            a.rename.as_ref().map(|k| k.span()),
            "a skipped field has no key",
        ),
        (
            "skip",
            a.skip.as_ref().map(|k| k.span()),
            "flatten",
            a.flatten.as_ref().map(|k| k.span()),
            "a skipped field is not in details",
        ),
        (
            "skip",
            a.skip.as_ref().map(|k| k.span()),
            "expose",
            a.expose.as_ref().map(|k| k.span()),
            "a skipped field is never shown",
        ),
        (
            "flatten",
            a.flatten.as_ref().map(|k| k.span()),
            "rename",
            a.rename.as_ref().map(|k| k.span()),
            "a flattened field's entries keep their own keys",
        ),
        (
            "rate_limit",
            a.rate_limit.as_ref().map(|k| k.span()),
            "rename",
            a.rename.as_ref().map(|k| k.span()),
            "a rate limit goes to the `X-RateLimit-*` headers, not to details",
        ),
        (
            "rate_limit",
            a.rate_limit.as_ref().map(|k| k.span()),
            "flatten",
            a.flatten.as_ref().map(|k| k.span()),
            "a rate limit goes to the `X-RateLimit-*` headers, not to details",
        ),
        (
            "rate_limit",
            a.rate_limit.as_ref().map(|k| k.span()),
            "skip",
            a.skip.as_ref().map(|k| k.span()),
            "a rate limit is never in details already",
        ),
        (
            "retry_after",
            a.retry_after.as_ref().map(|k| k.span()),
            "flatten",
            a.flatten.as_ref().map(|k| k.span()),
            "a delay is a single value",
        ),
        (
            "errors",
            a.errors.as_ref().map(|k| k.span()),
            "flatten",
            a.flatten.as_ref().map(|k| k.span()),
            "a list of messages is a single value",
        ),
    ];
    for (first, first_span, second, second_span, why) in conflicts {
        if let (Some(_), Some(span)) = (first_span, second_span) {
            cx.error_at(
                span,
                format!("`{second}` cannot be combined with `{first}`: {why}"),
            );
        }
    }

    let status = variant.attrs.status.as_ref().map(|s| s.value.code);
    if let Some(expose) = &a.expose {
        if status.is_some_and(|code| code < 500) {
            cx.error_at(expose.span(), "`expose` only matters on a 5xx, whose details are hidden; the details of a 4xx are always shown, so remove it");
        }
        if matches!(field.member, Member::Unnamed(_)) && a.rename.is_none() && a.flatten.is_none() {
            cx.error_at(expose.span(), "an unnamed field has no key in details; add `rename = \"...\"` to show it, or `flatten` to show its entries");
        }
    }
    if field.is_cause {
        for (key, span) in a.set_keys() {
            if matches!(key, "expose" | "rename" | "flatten" | "errors") {
                cx.error_at(span, format!("`{key}` on the error's `source`: the cause of an error is internal and never reaches the client"));
            }
        }
    }
}

/// Two errors with one code cannot be told apart by a client.
fn codes_unique(cx: &Ctxt, input: &Input<'_>) {
    let mut seen: BTreeMap<String, &syn::Ident> = BTreeMap::new();
    for variant in input.variants() {
        if variant.attrs.transparent.is_some() {
            continue;
        }
        let code = crate::expand::code_of(input, variant);
        if let Some(first) = seen.get(&code) {
            let span = match &variant.attrs.code {
                Some(explicit) => explicit.value.span(),
                None => variant.ident.span(),
            };
            cx.error_at(
                span,
                format!("`{}` has the code `{code}` of `{first}` already; give one of them another `code = \"...\"`", variant.ident),
            );
        } else {
            seen.insert(code, variant.ident);
        }
    }
}

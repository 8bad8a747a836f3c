//! The server's rejections (`rebuff::Rejection`) as the type sees them: the
//! `from_rejection` method of the variants marked `#[api(rejection = ...)]`,
//! and the compile-time check that no other code is a rejection's.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::Member;

use crate::ast::{Field, Input};
use crate::case::Case;

use super::bounds::Bounds;
use super::plan::Plan;

/// `ApiError::from_rejection`, when a variant answers a rejection; nothing
/// otherwise (the trait's default answers `None`).
///
/// Input: `#[api(rejection = NotFound)] RouteNotFound { path: String }`.
///
/// Output:
///
/// ```text
/// fn from_rejection(__rebuff_rejection: &Rejection) -> Option<Self> {
///     if Rejection::kind(__rebuff_rejection) == RejectionKind::NotFound {
///         return Some(Self::RouteNotFound {
///             path: <String as RejectionField>::__rebuff_from_detail(__rebuff_rejection, "path"),
///         });
///     }
///     None
/// }
/// ```
///
/// `RejectionKind::NotFound` carries the span of the user's `NotFound`, so
/// a kind that does not exist is rustc's error at that identifier.
pub(super) fn from_rejection(
    input: &Input<'_>,
    plans: &[Plan<'_, '_>],
    bounds: &mut Bounds,
) -> TokenStream {
    let answers: Vec<TokenStream> = plans
        .iter()
        .filter_map(|plan| {
            let kind = &plan.variant.attrs.rejection.as_ref()?.value;
            let kind = quote_spanned!(kind.span()=> ::rebuff::RejectionKind::#kind);
            let path = plan.path();
            let fields = plan.variant.fields.iter().map(|field| {
                let member = &field.member;
                let value = field_value(field, bounds);
                quote!(#member: #value)
            });
            Some(quote! {
                if ::rebuff::Rejection::kind(__rebuff_rejection) == #kind {
                    return ::core::option::Option::Some(#path { #(#fields,)* });
                }
            })
        })
        .collect();
    // The type's own function answers what no marked variant does.
    let rest = match &input.attrs.answer_rejections {
        Some(answer) => {
            let path = &answer.value;
            let span = syn::spanned::Spanned::span(path);
            quote_spanned! {span=>
                ::rebuff::__private::answer_rejection(#path, __rebuff_rejection)
            }
        }
        None => quote!(::core::option::Option::None),
    };
    if answers.is_empty() && input.attrs.answer_rejections.is_none() {
        return TokenStream::new();
    }
    quote! {
        fn from_rejection(__rebuff_rejection: &::rebuff::Rejection) -> ::core::option::Option<Self> {
            #(#answers)*
            #rest
        }
    }
}

/// A field of a variant answering a rejection: its delay for a
/// `retry_after` field (named or not), the rejection's detail of the
/// field's name, or the default for what a rejection never carries (other
/// unnamed fields, the cause); the limits for a `rate_limit` field. Spanned at the field's type, where a missing trait is reported.
fn field_value(field: &Field<'_>, bounds: &mut Bounds) -> TokenStream {
    let ty = field.ty;
    let span = syn::spanned::Spanned::span(ty);
    let named = matches!(field.member, Member::Named(_));
    if field.attrs.rate_limit.is_some() {
        bounds.require(ty, quote!(::rebuff::__private::RejectionRateLimit));
        return quote_spanned! {span=>
            <#ty as ::rebuff::__private::RejectionRateLimit>::__rebuff_from_rejection(__rebuff_rejection)
        };
    }
    // A delay, named or not.
    if field.attrs.retry_after.is_some() && !field.is_cause {
        bounds.require(ty, quote!(::rebuff::__private::RejectionField));
        return quote_spanned! {span=>
            <#ty as ::rebuff::__private::RejectionField>::__rebuff_from_retry_after(__rebuff_rejection)
        };
    }
    if !named || field.is_cause {
        bounds.require(ty, quote!(::rebuff::__private::RejectionDefault));
        return quote_spanned! {span=>
            <#ty as ::rebuff::__private::RejectionDefault>::__rebuff_default()
        };
    }
    bounds.require(ty, quote!(::rebuff::__private::RejectionField));
    let key = field.name();
    quote_spanned! {span=>
        <#ty as ::rebuff::__private::RejectionField>::__rebuff_from_detail(__rebuff_rejection, #key)
    }
}

/// One compile-time check per variant with a code of its own: a code that
/// is also a rejection's (in the type's `code_case`) would let a client
/// mistake the server's rejection for this error, so it fails the build
/// unless the variant answers that very rejection.
///
/// Output, spanned at the variant's `code = "..."` (or its name):
///
/// ```text
/// const _: () = if let Some(message) = clash("not_found", Case::Snake, None) {
///     panic!("{}", message)
/// };
/// ```
pub(super) fn clashes(input: &Input<'_>, plans: &[Plan<'_, '_>]) -> TokenStream {
    let case = input
        .attrs
        .code_case
        .as_ref()
        .map_or(Case::Snake, |case| case.value)
        .tokens();
    let checks = plans
        .iter()
        .filter(|plan| plan.transparent().is_none())
        .map(|plan| {
            let variant = plan.variant;
            let code = &variant.code;
            let span = match &variant.attrs.code {
                Some(explicit) => explicit.value.span(),
                None => variant.ident.span(),
            };
            let answers = match &variant.attrs.rejection {
                Some(kind) => {
                    let kind = &kind.value;
                    let kind = quote_spanned!(kind.span()=> ::rebuff::RejectionKind::#kind);
                    quote!(::core::option::Option::Some(#kind))
                }
                None => quote!(::core::option::Option::None),
            };
            quote_spanned! {span=>
                const _: () = if let ::core::option::Option::Some(__rebuff_clash) =
                    ::rebuff::__private::clash(#code, #case, #answers)
                {
                    ::core::panic!("{}", __rebuff_clash)
                };
            }
        });
    // A transparent variant's codes are its type's: checked against the
    // rejections as this type spells them, and against this type's own
    // codes. (Not for a generic type: a `const` item cannot name its
    // parameters.)
    let own: Vec<(&String, String)> = plans
        .iter()
        .filter(|plan| plan.transparent().is_none())
        .map(|plan| (&plan.variant.code, plan.variant.ident.to_string()))
        .collect();
    let generic = !input.original.generics.params.is_empty();
    let within = plans
        .iter()
        .filter(|_| !generic)
        .filter_map(|plan| Some((plan.variant, plan.transparent()?)))
        .map(|(variant, field)| {
            let ty = field.ty;
            // One check per own code, so that the error names it.
            let own = own.iter().map(|(code, name)| {
                let why = format!(
                    "`{}` holds a type with a variant of code `{code}`, the code of this type's own `{name}`: a client could not tell the two errors apart; give one of them another code",
                    variant.ident,
                );
                quote_spanned! {variant.ident.span()=>
                    const _: () = if ::rebuff::__private::has_code(<#ty as ::rebuff::ApiError>::CATALOG, #code) {
                        ::core::panic!("{}", #why)
                    };
                }
            });
            quote_spanned! {variant.ident.span()=>
                const _: () = if let ::core::option::Option::Some(__rebuff_clash) =
                    ::rebuff::__private::clash_within(
                        <#ty as ::rebuff::ApiError>::CATALOG,
                        #case,
                    )
                {
                    ::core::panic!("{}", __rebuff_clash)
                };
                #(#own)*
            }
        });
    // Two transparent variants' types may not share a code either.
    let held: Vec<_> = plans
        .iter()
        .filter(|_| !generic)
        .filter_map(|plan| Some((plan.variant, plan.transparent()?)))
        .collect();
    let between = held.iter().enumerate().flat_map(|(at, (variant, first))| {
        held[at + 1..].iter().map(move |(_, second)| {
            let (a, b) = (first.ty, second.ty);
            quote_spanned! {variant.ident.span()=>
                const _: () = if let ::core::option::Option::Some(__rebuff_clash) =
                    ::rebuff::__private::clash_between(
                        <#a as ::rebuff::ApiError>::CATALOG,
                        <#b as ::rebuff::ApiError>::CATALOG,
                    )
                {
                    ::core::panic!("{}", __rebuff_clash)
                };
            }
        })
    });
    quote!(#(#checks)* #(#within)* #(#between)*)
}

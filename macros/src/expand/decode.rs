//! The `#[api(decode)]` impl, `rebuff::client::FromRemote`: a client reads
//! a `RemoteError` back into the variant that produced it, by code (or by
//! status and fixed message), with each field taken from where the
//! `ApiError` impl put it.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use crate::ast::{Field, Input};

use super::bounds::Bounds;
use super::plan::{Detail, Plan};

/// `impl FromRemote`: the variant by code, its fields from the details (and
/// the headers, for `retry_after` and `rate_limit`), then transparent
/// variants' own decoding, then the `other` variant.
///
/// A variant with a cause (`#[source]`, `#[from]`, a `source` field) is left
/// out: its cause is never sent, so it cannot be rebuilt, and its code is
/// decoded as any unknown code is (into `other`, or `None`).
///
/// Output:
///
/// ```text
/// fn from_remote(__rebuff_remote: &RemoteError) -> Option<Self> {
///     match RemoteError::code(__rebuff_remote) {
///         Some("lead_not_found") => {
///             if let Some(decoded) = call(|| Some(Self::LeadNotFound { lead_id: DecodeField::__rebuff_from_detail(__rebuff_remote, "lead_id")? })) {
///                 return Some(decoded);
///             }
///         }
///         _ => {}
///     }
///     None
/// }
/// ```
pub(super) fn expand(input: &Input<'_>, plans: &[Plan<'_, '_>]) -> TokenStream {
    let node = input.original;
    let ty = &node.ident;
    let (impl_generics, ty_generics, where_clause) = node.generics.split_for_impl();
    let mut bounds = Bounds::new(&node.generics);
    let mut arms = Vec::new();
    let mut by_message = Vec::new();
    let mut delegates = Vec::new();
    let mut other = quote!(::core::option::Option::None);
    for plan in plans {
        let variant = plan.variant;
        let path = plan.path();
        if let Some(field) = plan.transparent() {
            let member = &field.member;
            let field_ty = field.ty;
            if variant.attrs.other.is_some() {
                other = quote! {
                    ::core::option::Option::Some(#path {
                        #member: ::core::convert::From::from(::core::clone::Clone::clone(__rebuff_remote)),
                    })
                };
            } else {
                bounds.require(field_ty, quote!(::rebuff::client::FromRemote));
                delegates.push(quote! {
                    if let ::core::option::Option::Some(__rebuff_inner) =
                        <#field_ty as ::rebuff::client::FromRemote>::from_remote(__rebuff_remote)
                    {
                        return ::core::option::Option::Some(#path { #member: __rebuff_inner });
                    }
                });
            }
            continue;
        }
        if variant.has_cause() {
            continue;
        }
        let fields = variant.fields.iter().map(|field| {
            let member = &field.member;
            let value = decode_field(plan, field, &mut bounds);
            quote!(#member: #value?)
        });
        let construct = quote! {
            ::rebuff::__private::call(|| -> ::core::option::Option<Self> {
                ::core::option::Option::Some(#path { #(#fields,)* })
            })
        };
        if variant.attrs.other.is_some() {
            other = construct;
            continue;
        }
        let code = &variant.code;
        arms.push(quote! {
            ::core::option::Option::Some(#code) => {
                if let ::core::option::Option::Some(__rebuff_decoded) = #construct {
                    return ::core::option::Option::Some(__rebuff_decoded);
                }
            }
        });
        // Formats without a code (the plain `{"error":"..."}`, whose one
        // word may read as a code) still name a variant whose message is
        // fixed and its own, together with the status. Not a 5xx's default
        // message, its reason phrase: a proxy's empty 503 or error page
        // says as much, and is none of the API's errors.
        let own_message = variant.attrs.message.is_some();
        if let (Some(message), Some(status), true) =
            (plan.constant_message(), &variant.attrs.status, own_message)
        {
            let status = status.value.code;
            by_message.push(quote! {
                if __rebuff_status == #status && ::rebuff::client::RemoteError::message(__rebuff_remote) == #message {
                    if let ::core::option::Option::Some(__rebuff_decoded) = #construct {
                        return ::core::option::Option::Some(__rebuff_decoded);
                    }
                }
            });
        }
    }
    // Only a body without a code of its own (or whose one word was read as
    // one) is told by its status and message: a code no variant has names
    // an error that is not one of these.
    let by_message = if by_message.is_empty() {
        TokenStream::new()
    } else {
        quote! {
            let __rebuff_status = ::rebuff::client::RemoteError::status(__rebuff_remote).as_u16();
            if ::rebuff::client::RemoteError::code(__rebuff_remote).is_none_or(|__rebuff_code| {
                __rebuff_code == ::rebuff::client::RemoteError::message(__rebuff_remote)
            }) {
                #(#by_message)*
            }
        }
    };
    let (where_clause, _) = bounds.extend(where_clause);
    quote! {
        #[automatically_derived]
        #[allow(unused_qualifications, clippy::needless_lifetimes, clippy::match_single_binding, clippy::unnecessary_lazy_evaluations)]
        impl #impl_generics ::rebuff::client::FromRemote for #ty #ty_generics #where_clause {
            fn from_remote(__rebuff_remote: &::rebuff::client::RemoteError) -> ::core::option::Option<Self> {
                match ::rebuff::client::RemoteError::code(__rebuff_remote) {
                    #(#arms)*
                    _ => {}
                }
                #by_message
                #(#delegates)*
                #other
            }
        }
    }
}

/// Where a field's value comes from when decoding: `Option<FieldType>`.
fn decode_field(plan: &Plan<'_, '_>, field: &Field<'_>, bounds: &mut Bounds) -> TokenStream {
    let ty = field.ty;
    let span = syn::spanned::Spanned::span(ty);
    let detail = plan
        .details
        .iter()
        .find(|d| core::ptr::eq(d.field(), field));
    let from_details = match detail {
        Some(Detail::Entry(key, _)) => {
            bounds.require(ty, quote!(::rebuff::__private::DecodeField));
            Some(
                quote_spanned!(span=> <#ty as ::rebuff::__private::DecodeField>::__rebuff_from_detail(__rebuff_remote, #key)),
            )
        }
        Some(Detail::Flatten(_)) => {
            bounds.require(ty, quote!(::rebuff::__private::DecodeField));
            let claimed = plan.details.iter().filter_map(|d| match d {
                Detail::Entry(key, _) => Some(key),
                Detail::Flatten(_) => None,
            });
            Some(
                quote_spanned!(span=> <#ty as ::rebuff::__private::DecodeField>::__rebuff_from_details(__rebuff_remote, &[#(#claimed),*])),
            )
        }
        None => None,
    };
    let from_headers = if field.attrs.retry_after.is_some() {
        bounds.require(ty, quote!(::rebuff::__private::DecodeRetryAfter));
        Some(
            quote_spanned!(span=> <#ty as ::rebuff::__private::DecodeRetryAfter>::__rebuff_from_retry_after(__rebuff_remote)),
        )
    } else if field.attrs.rate_limit.is_some() {
        bounds.require(ty, quote!(::rebuff::__private::DecodeRateLimit));
        Some(
            quote_spanned!(span=> <#ty as ::rebuff::__private::DecodeRateLimit>::__rebuff_from_rate_limit(__rebuff_remote)),
        )
    } else if field.attrs.errors.is_some() {
        bounds.require(ty, quote!(::rebuff::__private::DecodeField));
        Some(
            quote_spanned!(span=> <#ty as ::rebuff::__private::DecodeField>::__rebuff_from_errors(__rebuff_remote)),
        )
    } else {
        None
    };
    match (from_details, from_headers) {
        (Some(details), Some(headers)) => quote!(#details.or_else(|| #headers)),
        (Some(only), None) | (None, Some(only)) => only,
        (None, None) => {
            // Not in the response at all (skipped, hidden on a 5xx): the
            // type's default.
            bounds.require(ty, quote!(::rebuff::__private::DecodeDefault));
            quote_spanned!(span=> ::core::option::Option::Some(<#ty as ::rebuff::__private::DecodeDefault>::__rebuff_default()))
        }
    }
}

//! The OpenAPI impls (`rebuff::openapi::Documented`, utoipa's
//! `IntoResponses`), emitted through the runtime's `__rebuff_openapi!`,
//! which expands to nothing unless rebuff's `openapi` feature is on.
//!
//! The derive emits data only: per variant its name, the schema of each
//! `details` entry (by the field's type) and a sample value built from
//! `#[api(example = ...)]` or the field's type. The runtime builds the
//! responses, schemas and examples from them.
//!
//! Input: `#[api(status = 404)] LeadNotFound { #[api(example = "lead_1")] lead_id: String, hits: u32 }`.
//!
//! Output (inside `fn variants(__rebuff_out: &mut Vec<Variant<Self>>)`):
//!
//! ```text
//! __rebuff_out.push(
//!     VariantBuilder::new("LeadNotFound")
//!         .entry("lead_id", &(&&&&Probe::<String>::new()).__rebuff_schema())
//!         .entry("hits", &(&&&&Probe::<u32>::new()).__rebuff_schema())
//!         .finish(Self::LeadNotFound {
//!             lead_id: IntoSample::<String>::__rebuff_into_sample("lead_1"),
//!             hits: (&&&Probe::<u32>::new()).__rebuff_sample("hits"),
//!         }),
//! );
//! ```
//!
//! A `transparent` variant appends the errors of its field's type, each
//! wrapped in the variant; the `other` variant of a decoding type is left
//! out (it stands for whatever a server sent).

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};

use crate::ast::{Field, Input};

use super::bounds::Bounds;
use super::plan::{Detail, Plan};

/// `::rebuff::__rebuff_openapi! { ... }` for the type, with the `where`
/// predicates of its `ApiError` impl (`api_predicates`) and those the
/// documents need.
pub(super) fn expand(
    input: &Input<'_>,
    plans: &[Plan<'_, '_>],
    api_predicates: &[TokenStream],
) -> TokenStream {
    let node = input.original;
    let ty = &node.ident;
    let (impl_generics, ty_generics, _) = node.generics.split_for_impl();
    let mut bounds = Bounds::new(&node.generics);
    let out = Ident::new("__rebuff_out", Span::mixed_site());
    let variants: Vec<TokenStream> = plans
        .iter()
        .filter_map(|plan| variant(plan, &out, &mut bounds))
        .collect();
    let (_, extra) = bounds.extend(None);
    let predicates = api_predicates.iter().chain(&extra);
    quote! {
        ::rebuff::__rebuff_openapi! {
            [#impl_generics] [#ty #ty_generics] [#(#predicates,)*] [#out] {
                #(#variants)*
            }
        }
    }
}

/// Each `example = ...` checked against its field's type without the
/// `openapi` feature too (through `__rebuff_examples!`, which expands only
/// then): a wrong example must not wait for a crate somewhere in the build
/// to turn the feature on. Not for a generic type, whose fields' types a
/// `const` item cannot name.
pub(super) fn examples(input: &Input<'_>, plans: &[Plan<'_, '_>]) -> TokenStream {
    if !input.original.generics.params.is_empty() {
        return TokenStream::new();
    }
    let checks: Vec<TokenStream> = plans
        .iter()
        .flat_map(|plan| &plan.variant.fields)
        .filter_map(|field| {
            let example = field.attrs.example.as_ref()?;
            let ty = field.ty;
            let expr = &example.value;
            let span = syn::spanned::Spanned::span(expr);
            Some(quote_spanned! {span=>
                let _ = || -> #ty { ::rebuff::__private::IntoSample::<#ty>::__rebuff_into_sample(#expr) };
            })
        })
        .collect();
    if checks.is_empty() {
        return TokenStream::new();
    }
    quote! {
        ::rebuff::__rebuff_examples! {
            const _: () = {
                #[allow(dead_code)]
                fn __rebuff_examples() {
                    #(#checks)*
                }
            };
        }
    }
}

fn variant(plan: &Plan<'_, '_>, out: &Ident, bounds: &mut Bounds) -> Option<TokenStream> {
    let variant = plan.variant;
    let name = variant.ident.to_string();
    let path = plan.path();
    if let Some(field) = plan.transparent() {
        if variant.attrs.other.is_some() {
            return None;
        }
        let inner = field.ty;
        let member = &field.member;
        bounds.require(inner, quote!(::rebuff::openapi::Documented));
        return Some(quote! {
            ::rebuff::__private::openapi::delegate::<#inner, Self>(
                #out,
                #name,
                |__rebuff_inner| #path { #member: __rebuff_inner },
            );
        });
    }
    if variant.attrs.other.is_some() {
        return None;
    }
    let mut builder = quote!(::rebuff::__private::openapi::VariantBuilder::new(#name));
    for detail in &plan.details {
        let field = detail.field();
        let schema = schema(field, bounds);
        builder = match detail {
            Detail::Entry(key, _) => quote!(#builder.entry(#key, &#schema)),
            Detail::Flatten(_) => quote!(#builder.flatten(&#schema)),
        };
    }
    if let Some(field) = plan.errors {
        let schema = schema(field, bounds);
        builder = quote!(#builder.errors(#schema));
    }
    let fields = variant.fields.iter().map(|field| {
        let member = &field.member;
        let value = sample(field, bounds);
        quote!(#member: #value)
    });
    Some(quote! {
        #out.push(#builder.finish(#path { #(#fields,)* }));
    })
}

/// The field type's schema: rebuff's `DetailSchema`, else utoipa's
/// `ToSchema`, else `PartialSchema`, else a compile error at the type.
fn schema(field: &Field<'_>, bounds: &mut Bounds) -> TokenStream {
    let ty = field.ty;
    let span = syn::spanned::Spanned::span(ty);
    // Sent as whole seconds and as strings, whatever the field's type.
    if field.attrs.retry_after.is_some() {
        return quote_spanned!(span=> ::rebuff::__private::openapi::retry_after_schema::<#ty>());
    }
    if field.attrs.errors.is_some() {
        return quote_spanned!(span=> ::rebuff::__private::openapi::errors_schema());
    }
    bounds.require(ty, quote!(::rebuff::openapi::DetailSchema));
    quote_spanned! {span=>
        {
            #[allow(unused_imports)]
            use ::rebuff::__private::openapi::{
                ViaDetailSchema as _, ViaNone as _, ViaPartialSchema as _, ViaToSchema as _,
            };
            (&&&&::rebuff::__private::openapi::Probe::<#ty>::new()).__rebuff_schema()
        }
    }
}

/// The field's sample value: `#[api(example = ...)]`, else the type's
/// `Sample`, else its `Default`, else a compile error at the type.
fn sample(field: &Field<'_>, bounds: &mut Bounds) -> TokenStream {
    let ty = field.ty;
    if let Some(example) = &field.attrs.example {
        let expr = &example.value;
        let span = syn::spanned::Spanned::span(expr);
        return quote_spanned! {span=>
            ::rebuff::__private::IntoSample::<#ty>::__rebuff_into_sample(#expr)
        };
    }
    bounds.require(ty, quote!(::rebuff::openapi::Sample));
    let name = field.name();
    let span = syn::spanned::Spanned::span(ty);
    quote_spanned! {span=>
        {
            #[allow(unused_imports)]
            use ::rebuff::__private::openapi::{ViaDefault as _, ViaNoSample as _, ViaSample as _};
            (&&&::rebuff::__private::openapi::Probe::<#ty>::new()).__rebuff_sample(#name)
        }
    }
}

#[cfg(test)]
mod tests {
    /// Without the `openapi` feature the derive still checks its examples:
    /// it emits them, against their fields' types, through the runtime's
    /// `__rebuff_examples!` (which expands only then); not for a generic
    /// type.
    #[test]
    fn examples_are_checked_outside_the_documents() {
        let input: syn::DeriveInput = syn::parse_quote! {
            enum E {
                #[api(status = 404, message = "Gone")]
                Gone { #[api(example = "lead_1")] id: String, hits: u32 },
            }
        };
        let out = crate::expand::derive(&input).to_string();
        let check = out
            .split(":: rebuff :: __rebuff_examples !")
            .nth(1)
            .and_then(|rest| rest.split("# [automatically_derived]").next())
            .expect("an examples check");
        assert!(
            check.contains("IntoSample :: < String > :: __rebuff_into_sample (\"lead_1\")"),
            "{check}"
        );
        assert!(
            !check.contains("u32"),
            "a field without an example: {check}"
        );
        let generic: syn::DeriveInput = syn::parse_quote! {
            enum G<T> {
                #[api(status = 404, message = "Gone")]
                Gone { #[api(example = 1)] id: T },
            }
        };
        let out = crate::expand::derive(&generic).to_string();
        assert!(!out.contains("__rebuff_examples"), "{out}");
    }
}

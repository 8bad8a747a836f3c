//! What the derive emits beside its errors when the input is invalid: an
//! `ApiError` impl whose bodies are unreachable, and the framework and
//! OpenAPI impls over it, so the rest of the user's crate still
//! type-checks and only the real mistakes are reported.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub(crate) fn expand(node: &DeriveInput) -> TokenStream {
    let ty = &node.ident;
    let (impl_generics, ty_generics, where_clause) = node.generics.split_for_impl();
    // The framework and document impls too, so that handlers returning
    // the type, and documents of its routes, report nothing more.
    let mut predicates: Vec<TokenStream> = where_clause
        .map(|clause| clause.predicates.iter().map(|p| quote!(#p)).collect())
        .unwrap_or_default();
    let has_display = node
        .attrs
        .iter()
        .any(|a| a.path().is_ident(crate::symbol::ERROR))
        || match &node.data {
            syn::Data::Enum(data) => data.variants.iter().any(|v| {
                v.attrs
                    .iter()
                    .any(|a| a.path().is_ident(crate::symbol::ERROR))
            }),
            _ => false,
        };
    let display = if has_display {
        quote!(display)
    } else {
        quote!()
    };
    if has_display && !node.generics.params.is_empty() {
        predicates.push(quote!(Self: ::core::fmt::Debug + ::core::fmt::Display));
    }
    quote! {
        ::rebuff::__rebuff_frameworks! { [#display] [#impl_generics] [#ty #ty_generics] [#(#predicates,)*] }
        ::rebuff::__rebuff_openapi! {
            [#impl_generics] [#ty #ty_generics] [#(#predicates,)*] [__rebuff_variants] {
                let _ = __rebuff_variants;
            }
        }

        #[allow(unused_qualifications, unreachable_code)]
        impl #impl_generics ::rebuff::ApiError for #ty #ty_generics #where_clause {
            type Envelope = ::rebuff::envelope::Nested;

            fn status(&self) -> ::rebuff::__private::StatusCode {
                ::core::unreachable!()
            }

            fn code(&self) -> &::core::primitive::str {
                ::core::unreachable!()
            }

            fn fmt_message(&self, _: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                ::core::unreachable!()
            }
        }
    }
}

//! What the derive emits beside its errors when the input is invalid: an
//! impl whose bodies are unreachable, so the rest of the user's crate still
//! type-checks and only the real mistakes are reported.

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

pub(crate) fn expand(node: &DeriveInput) -> TokenStream {
    let ty = &node.ident;
    let (impl_generics, ty_generics, where_clause) = node.generics.split_for_impl();
    quote! {
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

//! The `ApiError::CATALOG` entries: one per variant, with its code, status,
//! message, whether it is retried and its doc comment, from which
//! `rebuff::catalog` prints the table of an API's errors.

use proc_macro2::TokenStream;
use quote::quote;

use super::bounds::Bounds;
use super::plan::Plan;

/// `Entry::new(name, code, status, message, retryable, docs)`, or for a
/// transparent variant the entries of the type it delegates to.
pub(super) fn entry(plan: &Plan<'_, '_>, bounds: &mut Bounds) -> TokenStream {
    let variant = plan.variant;
    let name = variant.ident.to_string();
    let docs = &variant.docs;
    if let Some(field) = plan.transparent() {
        let ty = field.ty;
        bounds.require(ty, quote!(::rebuff::ApiError));
        return quote! {
            ::rebuff::__private::Entry::transparent(#name, #docs, <#ty as ::rebuff::ApiError>::CATALOG)
        };
    }
    let status = variant.attrs.status.as_ref().map(|s| &s.value);
    let code = &variant.code;
    let status_code = status.map_or(0, |s| s.code);
    let message = match (&variant.attrs.message, status) {
        (Some(message), _) => message.value.value(),
        (None, Some(s)) if s.code >= 500 => s.reason.unwrap_or_default().to_owned(),
        (None, _) => variant.error_text.clone().unwrap_or_default(),
    };
    let retryable = plan.retryable;
    let answering = variant.attrs.rejection.as_ref().map(|kind| {
        let kind = &kind.value;
        quote!(.answering(::rebuff::RejectionKind::#kind))
    });
    quote! {
        ::rebuff::__private::Entry::new(#name, #code, #status_code, #message, #retryable, #docs)#answering
    }
}

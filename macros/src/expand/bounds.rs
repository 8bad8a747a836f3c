//! The `where` predicates of the generated impls: a generic type gets one
//! predicate per field type that mentions a type parameter and is used
//! through a trait (`Vec<T>: Serialize`), added to the user's own.

use std::collections::BTreeSet;

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote};

/// The extra `where` predicates a generic type needs: one per field type
/// that mentions a type parameter and is used through a trait.
pub(super) struct Bounds {
    params: BTreeSet<String>,
    predicates: Vec<TokenStream>,
    require_self_display: bool,
}

impl Bounds {
    /// No bounds yet, over the type parameters of `generics`.
    pub(super) fn new(generics: &syn::Generics) -> Self {
        Bounds {
            params: generics
                .type_params()
                .map(|p| p.ident.to_string())
                .collect(),
            predicates: Vec::new(),
            require_self_display: false,
        }
    }

    /// `ty: bound`, if `ty` mentions a type parameter and the predicate is
    /// not there yet.
    pub(super) fn require(&mut self, ty: &syn::Type, bound: TokenStream) {
        if mentions(ty.to_token_stream(), &self.params) {
            let predicate = quote!(#ty: #bound);
            if !self
                .predicates
                .iter()
                .any(|p| p.to_string() == predicate.to_string())
            {
                self.predicates.push(predicate);
            }
        }
    }

    /// `Self: Display`, for a generic type whose message falls back to its
    /// own `Display` (thiserror's `#[error]`).
    pub(super) fn require_self_display(&mut self) {
        self.require_self_display = true;
    }

    /// The `where` clause of the impl, and its predicates alone (for the
    /// framework impls, which add their own).
    pub(super) fn extend(
        mut self,
        where_clause: Option<&syn::WhereClause>,
    ) -> (TokenStream, Vec<TokenStream>) {
        if self.require_self_display && !self.params.is_empty() {
            self.predicates.push(quote!(Self: ::core::fmt::Display));
        }
        let mut all: Vec<TokenStream> = where_clause
            .map(|w| w.predicates.iter().map(ToTokens::to_token_stream).collect())
            .unwrap_or_default();
        all.extend(self.predicates);
        if all.is_empty() {
            return (TokenStream::new(), all);
        }
        (quote!(where #(#all,)*), all)
    }
}

/// Whether the tokens of a type name one of the type parameters.
fn mentions(tokens: TokenStream, params: &BTreeSet<String>) -> ::core::primitive::bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => params.contains(&ident.to_string()),
        TokenTree::Group(group) => mentions(group.stream(), params),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use quote::quote;

    use super::mentions;

    #[test]
    fn field_types_that_name_a_parameter() {
        let params: BTreeSet<String> = ["T".to_owned()].into();
        assert!(mentions(quote!(T), &params));
        assert!(mentions(quote!(Vec<T>), &params));
        assert!(mentions(quote!(Option<(u8, [T; 2])>), &params));
        assert!(!mentions(quote!(String), &params));
        assert!(!mentions(quote!(Type), &params));
    }
}

//! `crate = path`: the generated code names rebuff by absolute paths
//! (`::rebuff::...`); a crate that reaches rebuff under another name (a
//! renamed dependency, or a re-export such as `my_common::rebuff`) has
//! each of them rewritten to start at its path instead.

use proc_macro2::{Group, Spacing, TokenStream, TokenTree};
use quote::ToTokens;

/// Keywords after which `::` starts an absolute path (`<T as ::rebuff::X>`,
/// `impl ::rebuff::X`), not the next segment of one.
const BEFORE_ABSOLUTE: &[&str] = &[
    "as", "box", "break", "const", "dyn", "else", "for", "if", "impl", "in", "let", "loop",
    "match", "move", "mut", "pub", "ref", "return", "static", "type", "unsafe", "use", "where",
    "while", "yield",
];

/// `tokens` with every absolute `::rebuff` path started at `root`
/// instead; `a::rebuff::b` and the like are left alone.
pub(crate) fn reroot(tokens: TokenStream, root: &syn::Path) -> TokenStream {
    let root = root.to_token_stream();
    rewrite(tokens, &root)
}

fn rewrite(tokens: TokenStream, root: &TokenStream) -> TokenStream {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::with_capacity(tokens.len());
    let mut at = 0;
    while at < tokens.len() {
        if let [
            TokenTree::Punct(first),
            TokenTree::Punct(second),
            TokenTree::Ident(name),
            ..,
        ] = &tokens[at..]
        {
            let absolute = first.as_char() == ':'
                && first.spacing() == Spacing::Joint
                && second.as_char() == ':'
                && name == "rebuff"
                && starts_a_path(&out);
            if absolute {
                out.extend(root.clone());
                at += 3;
                continue;
            }
        }
        out.push(match &tokens[at] {
            TokenTree::Group(group) => {
                let mut rewritten = Group::new(group.delimiter(), rewrite(group.stream(), root));
                rewritten.set_span(group.span());
                TokenTree::Group(rewritten)
            }
            other => other.clone(),
        });
        at += 1;
    }
    out.into_iter().collect()
}

/// Whether a `::` after `before` starts a path: not after a segment (an
/// identifier, or the `>` closing generic arguments), but after `->` and
/// `=>`, the `>` closing an `impl<...>`'s or a `for<...>`'s parameters,
/// any other punctuation, a keyword, or nothing.
fn starts_a_path(before: &[TokenTree]) -> bool {
    match before {
        [.., TokenTree::Ident(ident)] => BEFORE_ABSOLUTE.iter().any(|k| ident == k),
        [.., TokenTree::Punct(arrow), TokenTree::Punct(close)]
            if close.as_char() == '>'
                && arrow.spacing() == Spacing::Joint
                && matches!(arrow.as_char(), '-' | '=') =>
        {
            true
        }
        [.., TokenTree::Punct(close)] if close.as_char() == '>' => closes_parameters(before),
        _ => true,
    }
}

/// Whether the `>` that ends `before` closes the parameters of an `impl`
/// or a `for` (`impl<T: Bound<U>> ::rebuff::X`), not a path's generic
/// arguments (`Vec::<u8>::x`).
fn closes_parameters(before: &[TokenTree]) -> bool {
    let mut depth = 0usize;
    for (at, token) in before.iter().enumerate().rev() {
        let TokenTree::Punct(punct) = token else {
            continue;
        };
        // `->` and `=>` inside the parameters (`F: Fn() -> R`) are no
        // brackets.
        let arrow = at > 0
            && matches!(&before[at - 1], TokenTree::Punct(p) if p.spacing() == Spacing::Joint && matches!(p.as_char(), '-' | '='));
        match punct.as_char() {
            '>' if !arrow => depth += 1,
            '<' => {
                depth -= 1;
                if depth == 0 {
                    return matches!(
                        before[..at].last(),
                        Some(TokenTree::Ident(ident)) if ident == "impl" || ident == "for"
                    );
                }
            }
            _ => {}
        }
    }
    false
}

/// The `crate = path` of `#[api(...)]` attributes, if one is written (read
/// apart from the other keys, so that the code of a type whose attributes
/// have mistakes names its crate too).
pub(crate) fn crate_of(attrs: &[syn::Attribute]) -> Option<syn::Path> {
    let mut found = None;
    for attr in attrs
        .iter()
        .filter(|a| a.path().is_ident(crate::symbol::API))
    {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(crate::symbol::CRATE) {
                if let Ok(value) = meta.value() {
                    found = value.parse::<syn::Path>().ok();
                }
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            } else if meta.input.peek(syn::token::Paren) {
                let _group: proc_macro2::Group = meta.input.parse()?;
            }
            Ok(())
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::reroot;

    #[test]
    fn absolute_paths_start_at_the_root_and_others_are_left() {
        let root: syn::Path = syn::parse_quote!(my_common::rebuff);
        let tokens = quote! {
            impl<T: Into<Vec<u8>>, F: Fn() -> T> ::rebuff::ApiError for E<T, F> where T: ::rebuff::Retryable {}
            impl ::rebuff::ApiError for E {
                fn f(x: &::rebuff::Context) -> ::rebuff::Style {
                    let y = <T as ::rebuff::ApiError>::CATALOG;
                    match y { _ => ::rebuff::__private::call(|| ::rebuff::x()) }
                    other::rebuff::Kept;
                    Vec::<u8>::rebuff::kept;
                    ::rebuff::__rebuff_retry!(async, ::rebuff::Policy::DEFAULT)
                }
            }
        };
        let out = reroot(tokens, &root).to_string();
        // Every `rebuff` is either started at the root or a later segment.
        let rerooted = out.matches("my_common :: rebuff ::").count();
        assert_eq!(rerooted, 10, "{out}");
        assert_eq!(out.matches(":: rebuff ::").count(), rerooted + 2, "{out}");
        assert!(out.contains("other :: rebuff :: Kept"), "{out}");
        assert!(out.contains("> :: rebuff :: kept"), "{out}");
    }
}

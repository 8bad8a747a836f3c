//! What `#[retry]` reads from the function it wraps: how it produces its
//! result (async, a returned future, blocking), the error type of that
//! result, and the shapes the engine cannot wrap (each a compile error at
//! the part of the signature at fault).

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::{FnArg, Pat, ReturnType, Signature, Type};

use super::RetryFn;
use super::args::Args;
use crate::ctxt::Ctxt;

/// How the function produces its result.
pub(super) enum Kind {
    Async,
    /// A non-async function returning `impl Future<Output = ...>`.
    Future,
    Blocking,
}

/// Function shapes the engine cannot wrap.
pub(super) fn check_signature(cx: &Ctxt, sig: &Signature) {
    if let Some(constness) = &sig.constness {
        cx.error_at(
            constness.span,
            "`#[retry]` cannot wrap a `const fn`: retrying sleeps at run time",
        );
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned_by(
            abi,
            "`#[retry]` cannot wrap an `extern` function; wrap a Rust function that calls it",
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, "`#[retry]` cannot wrap a variadic function");
    }
}

/// What one shape of function cannot do: a blocking attempt cannot be cut
/// off (only told its limit); a function returning `impl Future` makes a
/// fresh future per attempt from its arguments, which a `&mut` cannot give
/// twice.
pub(super) fn check_kind(cx: &Ctxt, args: &Args, function: &RetryFn, kind: &Kind) {
    // A blocking attempt sees its limit only through its binding.
    if let (Kind::Blocking, Some(timeout), None, None) =
        (kind, &args.attempt_timeout, &args.attempt, &args.policy)
    {
        cx.error_at(
            timeout.key.span(),
            "`attempt_timeout` cannot cut off a blocking attempt: bind the attempt (`attempt = attempt`) and hand `attempt.limit()` to what it waits on (a socket's read timeout, a client's per-request timeout)",
        );
    }
    if !matches!(kind, Kind::Future) {
        return;
    }
    // A `&mut` used before the future is made is fine; one the future
    // takes (named in an `async move` block) could go into one only.
    let body = function.body.stream();
    for input in &function.sig.inputs {
        let exclusive = match input {
            FnArg::Receiver(receiver) => reference(&receiver.ty)
                .filter(|r| r.mutability.is_some())
                .map(|_| "self".to_owned()),
            FnArg::Typed(typed) => match (&*typed.pat, reference(&typed.ty)) {
                (Pat::Ident(pat), Some(r)) if r.mutability.is_some() => Some(pat.ident.to_string()),
                _ => None,
            },
        };
        if exclusive.is_some_and(|name| moved_into_async_block(body.clone(), &name)) {
            cx.error_spanned_by(
                input,
                "`#[retry]` on a function returning `impl Future` builds a fresh future for each attempt, and a `&mut` argument can go into only one of them: make the function an `async fn`, which borrows its arguments one attempt at a time",
            );
        }
    }
}

/// Whether an `async move` block in `tokens` names `name`.
fn moved_into_async_block(tokens: TokenStream, name: &str) -> bool {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    tokens.iter().enumerate().any(|(at, token)| match token {
        TokenTree::Group(group) => {
            let after_async_move = at >= 2
                && matches!(&tokens[at - 2], TokenTree::Ident(i) if i == "async")
                && matches!(&tokens[at - 1], TokenTree::Ident(i) if i == "move");
            if after_async_move && group.delimiter() == Delimiter::Brace {
                names(group.stream(), name)
            } else {
                moved_into_async_block(group.stream(), name)
            }
        }
        _ => false,
    })
}

/// Whether `tokens` name `name` anywhere, a format string's inline
/// argument (`"{name}"`, `"{name:?}"`) included.
pub(super) fn names(tokens: TokenStream, name: &str) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == name,
        TokenTree::Group(group) => names(group.stream(), name),
        TokenTree::Literal(literal) => {
            let text = literal.to_string();
            text.starts_with(['"', 'r'])
                && (text.contains(&format!("{{{name}}}")) || text.contains(&format!("{{{name}:")))
        }
        TokenTree::Punct(_) => false,
    })
}

/// `ty` as a reference type, seen through parentheses and the invisible
/// group a `macro_rules!` `$t:ty` arrives in.
pub(super) fn reference(ty: &Type) -> Option<&syn::TypeReference> {
    match ty {
        Type::Reference(reference) => Some(reference),
        Type::Paren(inner) => reference(&inner.elem),
        Type::Group(inner) => reference(&inner.elem),
        _ => None,
    }
}

/// Whether `ty` is or holds a reference (`&T`, `Pin<&mut T>`).
pub(super) fn borrows(ty: &Type) -> bool {
    if reference(ty).is_some() {
        return true;
    }
    let Type::Path(path) = ty else {
        return false;
    };
    path.path
        .segments
        .iter()
        .any(|segment| match &segment.arguments {
            syn::PathArguments::AngleBracketed(args) => args.args.iter().any(|arg| match arg {
                syn::GenericArgument::Type(ty) => borrows(ty),
                _ => false,
            }),
            _ => false,
        })
}

pub(super) fn kind_of(sig: &Signature) -> Kind {
    if sig.asyncness.is_some() {
        return Kind::Async;
    }
    match &sig.output {
        ReturnType::Type(_, ty) if future_output(ty).is_some() => Kind::Future,
        _ => Kind::Blocking,
    }
}

/// `Output` of `impl Future<Output = T> + ...`.
fn future_output(ty: &Type) -> Option<&Type> {
    let Type::ImplTrait(imp) = ty else {
        return None;
    };
    imp.bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(bound) = bound else {
            return None;
        };
        let last = bound.path.segments.last()?;
        if last.ident != "Future" {
            return None;
        }
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
}

/// The `Result` type each attempt produces, or an error saying why the
/// function cannot be retried.
pub(super) fn result_type(cx: &Ctxt, sig: &Signature, kind: &Kind) -> Option<Type> {
    let ReturnType::Type(_, ty) = &sig.output else {
        cx.error_at(
            sig.ident.span(),
            format!("`#[retry]` needs a function returning `Result<T, E>` (the error decides whether to retry); `{}` returns nothing", sig.ident),
        );
        return None;
    };
    let ty = match kind {
        Kind::Future => future_output(ty).expect("checked by kind_of"),
        Kind::Async | Kind::Blocking => ty,
    };
    if boxed_future(ty) {
        cx.error_spanned_by(
            ty,
            "`#[retry]` sees a function returning a boxed future, as `#[async_trait]` rewrites an `async fn`: it cannot retry it from the outside. Put `#[retry]` on an `async fn` of your own (an inherent method or a free function) and call it from the trait method",
        );
        return None;
    }
    if !could_be_result(ty) {
        cx.error_spanned_by(
            ty,
            "`#[retry]` needs a function returning `Result<T, E>`: the error decides whether to retry",
        );
        return None;
    }
    Some(ty.clone())
}

/// `Pin<Box<dyn Future ...>>` and the like (`BoxFuture<...>`): what
/// `#[async_trait]` and hand-written trait methods return.
fn boxed_future(ty: &Type) -> bool {
    let Type::Path(path) = ty else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    let name = last.ident.to_string();
    name == "Pin" || name.ends_with("Future")
}

/// False for types that are certainly not a `Result` (aliases of one pass).
fn could_be_result(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => {
            let Some(last) = path.path.segments.last() else {
                return false;
            };
            let name = last.ident.to_string();
            !matches!(
                name.as_str(),
                "Option"
                    | "bool"
                    | "char"
                    | "str"
                    | "String"
                    | "Vec"
                    | "Box"
                    | "u8"
                    | "u16"
                    | "u32"
                    | "u64"
                    | "u128"
                    | "usize"
                    | "i8"
                    | "i16"
                    | "i32"
                    | "i64"
                    | "i128"
                    | "isize"
                    | "f32"
                    | "f64"
            )
        }
        Type::Paren(inner) => could_be_result(&inner.elem),
        Type::Group(inner) => could_be_result(&inner.elem),
        Type::Macro(_) => true,
        _ => false,
    }
}

//! `#[retry(...)]`: wraps a function body in the retry engine.
//!
//! Input:
//!
//! ```text
//! #[retry(policy = STANDARD)]
//! async fn fetch(client: &Client, id: String) -> Result<Lead, ClientError> { BODY }
//! ```
//!
//! Output: the same attributes and signature, with the body handed to the
//! runtime's retry loop (a hidden `macro_rules!`, so this crate knows
//! nothing of the engine's protocol):
//!
//! ```text
//! {
//!     ::rebuff::__rebuff_retry!(async, PolicyRef::__rebuff_policy(&(STANDARD)), NoExtras, _ =>
//!         ::rebuff::__private::typed::<Result<Lead, ClientError>, _>(async {
//!             let id = ::rebuff::__private::RetryArg::__rebuff_clone(&id);
//!             let __rebuff_out: Result<Lead, ClientError> = { BODY };
//!             __rebuff_out
//!         })
//!     )
//! }
//! ```
//!
//! With `when`, `on_retry`, `on_give_up`, `breaker` or `budget`, the extras
//! are `WithExtras::NONE.when(..)...`; without them `NoExtras`, and their
//! checks compile away. `attempt = NAME` puts `NAME` where `_` is, and the
//! loop binds each attempt's `Attempt` to it.
//!
//! The body keeps its tokens and spans: `return` and `?` end one attempt, as
//! they ended the call before. Arguments taken by value are cloned for each
//! attempt; references and `&self`/`&mut self` are captured as they are; a
//! by-value `self` is cloned and the body's `self` renamed to the clone.
//! Blocking functions run the blocking form of the loop, each attempt a
//! plain closure called at once; functions returning
//! `impl Future<Output = Result<..>>` build a fresh future per attempt.

mod args;
mod duration;
mod signature;

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Attribute, FnArg, Pat, Signature, Type, Visibility};

use crate::ctxt::Ctxt;
use args::Args;
use signature::{
    Kind, borrows, check_kind, check_signature, kind_of, names, reference, result_type,
};

/// A function as `#[retry]` sees it: the body is kept as tokens.
struct RetryFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    body: Group,
}

impl Parse for RetryFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        if input.peek(syn::Token![;]) {
            return Err(syn::Error::new(
                sig.ident.span(),
                "`#[retry]` needs a function with a body; put it on the function's definition (in the `impl`), not on a declaration",
            ));
        }
        let body: Group = input.parse()?;
        if body.delimiter() != Delimiter::Brace {
            return Err(syn::Error::new(
                body.span(),
                "expected the function body in braces",
            ));
        }
        Ok(RetryFn {
            attrs,
            vis,
            sig,
            body,
        })
    }
}

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: RetryFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(err) => return with_error(err, item),
    };
    match try_expand(args, function) {
        Ok(tokens) => tokens,
        Err(err) => with_error(err, item),
    }
}

/// The function unchanged beside the error, so callers and IDEs keep working.
fn with_error(err: syn::Error, item: TokenStream) -> TokenStream {
    let error = err.to_compile_error();
    quote!(#error #item)
}

// The three expansions (async, blocking, future) read best side by side.
#[allow(clippy::too_many_lines)]
fn try_expand(args: TokenStream, mut function: RetryFn) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let args = args::parse(&cx, args);
    args.validate(&cx);
    check_signature(&cx, &function.sig);
    check_attempt_name(&cx, &args, &function.sig);
    check_stacked(&cx, &args, &function.attrs);
    let kind = kind_of(&function.sig);
    check_kind(&cx, &args, &function, &kind);
    let output = result_type(&cx, &function.sig, &kind);
    let prelude = per_attempt_bindings(&cx, &mut function.sig, &function.body.stream());
    cx.check()?;
    let output = output.expect("checked");

    let RetryFn {
        attrs,
        vis,
        sig,
        body,
    } = function;
    let (inner_attrs, body) = split_inner_attributes(body.stream());
    let body = if prelude.rebinds_self {
        rename_self(body)
    } else {
        body
    };
    let clones = prelude.clones;
    let policy = policy_expr(&args);
    let binding = policy_binding(&args);
    let extras = extras(&args);
    let span = output.span();
    let mut erased = output.clone();
    EraseImplTrait.visit_type_mut(&mut erased);
    // `_`: attempts are only counted; a name: bound to each attempt.
    let attempt = match &args.attempt {
        Some(attempt) => attempt.value.to_token_stream(),
        None => quote!(_),
    };

    let new_body = match kind {
        // The attempt is an `async` block, not an async closure: its future
        // borrows the arguments for one attempt only, so the function's
        // future stays `Send` when its parts are.
        // The body's value is bound with the function's type, so that a
        // wrong type is reported at the value, as without the macro, not
        // at the return type.
        Kind::Async => {
            let out = Ident::new("__rebuff_out", Span::mixed_site());
            let attempt_future = quote_spanned! {span=>
                ::rebuff::__private::typed::<#erased, _>(async {
                    #(#clones)*
                    let #out: #erased = { #body };
                    #[allow(unreachable_code)]
                    #out
                })
            };
            let attempt_future = cut_off(&args, attempt_future);
            quote_spanned! {span=>
                #binding
                ::rebuff::__rebuff_retry!(async, #policy, #extras, #attempt => #attempt_future)
            }
        }
        Kind::Blocking => quote_spanned! {span=>
            #binding
            ::rebuff::__rebuff_retry!(blocking, #policy, #extras, #attempt =>
                ::rebuff::__private::call(|| -> #erased {
                    #(#clones)*
                    #body
                })
            )
        },
        // A fresh future per attempt, from a closure that owns (clones of)
        // the arguments.
        Kind::Future => {
            let (param, call) = match &args.attempt {
                Some(attempt) => {
                    let name = &attempt.value;
                    (
                        quote!(#name: ::rebuff::__private::Attempt),
                        quote!(__rebuff_make(#name)),
                    )
                }
                None => (quote!(), quote!(__rebuff_make())),
            };
            let call = cut_off(&args, call);
            quote_spanned! {span=>
                #binding
                #[allow(unused_mut)]
                let mut __rebuff_make = move |#param| {
                    #(#clones)*
                    #body
                };
                async move {
                    ::rebuff::__rebuff_retry!(async, #policy, #extras, #attempt => #call)
                }
            }
        }
    };
    let tokens = quote! {
        #(#attrs)*
        #vis #sig {
            #inner_attrs
            #new_body
        }
    };
    Ok(match &args.krate {
        Some(root) => crate::reroot::reroot(tokens, &root.value),
        None => tokens,
    })
}

/// Each attempt's future, checked (where the attribute sets
/// `attempt_timeout`) to end in an error that can stand for an attempt cut
/// off: else the key would silently do nothing. The check is spanned at
/// the key.
fn cut_off(args: &Args, attempt_future: TokenStream) -> TokenStream {
    match &args.attempt_timeout {
        Some(timeout) => {
            let span = timeout.key.span();
            quote_spanned!(span=> ::rebuff::__private::cut_off(#attempt_future))
        }
        None => attempt_future,
    }
}

/// `attempt = NAME` names a new variable: one the function already has
/// (an argument, `self`) would be hidden by it in the body.
fn check_attempt_name(cx: &Ctxt, args: &Args, sig: &Signature) {
    let Some(attempt) = &args.attempt else {
        return;
    };
    let name = &attempt.value;
    if name == "self" {
        cx.error_at(
            name.span(),
            "`attempt = self` cannot name the attempt: `self` is the receiver; choose a name of its own (`attempt = attempt`)",
        );
        return;
    }
    for input in &sig.inputs {
        if let FnArg::Typed(typed) = input {
            if let Pat::Ident(pat) = &*typed.pat {
                if pat.ident == *name {
                    cx.error_at(
                        name.span(),
                        format!("`attempt = {name}` would hide the argument `{name}` in the body: choose another name (`attempt = attempt`)"),
                    );
                }
            }
        }
    }
}

/// A second `#[retry]` on the function (`retry`, `rebuff::retry`, or under
/// `crate = errs`, `errs::retry`) would retry every attempt of the first:
/// 3 retries each make 16 calls, not 4.
fn check_stacked(cx: &Ctxt, args: &Args, attrs: &[Attribute]) {
    let root = args
        .krate
        .as_ref()
        .and_then(|root| root.value.segments.first())
        .map(|first| first.ident.to_string());
    for attr in attrs {
        let path = attr.path();
        let named = path
            .segments
            .last()
            .is_some_and(|last| last.ident == "retry");
        let ours = path.segments.len() == 1
            || path.segments.first().is_some_and(|first| {
                first.ident == "rebuff" || root.as_deref().is_some_and(|root| first.ident == root)
            });
        if named && ours {
            cx.error_spanned_by(
                attr,
                "a second `#[retry]` on this function would retry each attempt of the first, multiplying the calls: give every key to one `#[retry]`",
            );
        }
    }
}

/// The body's leading inner attributes (`#![allow(...)]`), which stay at
/// the top of the function's body, and the rest of it, which the retry
/// loop wraps (where an inner attribute could not stand).
fn split_inner_attributes(body: TokenStream) -> (TokenStream, TokenStream) {
    let mut tokens: Vec<TokenTree> = body.into_iter().collect();
    let mut at = 0;
    while let [
        TokenTree::Punct(pound),
        TokenTree::Punct(bang),
        TokenTree::Group(group),
        ..,
    ] = &tokens[at..]
    {
        let inner = pound.as_char() == '#'
            && bang.as_char() == '!'
            && group.delimiter() == Delimiter::Bracket;
        if !inner {
            break;
        }
        at += 3;
    }
    let rest = tokens.split_off(at).into_iter().collect();
    (tokens.into_iter().collect(), rest)
}

struct Prelude {
    /// `let name = RetryArg::__rebuff_clone(&name);` per by-value argument.
    clones: Vec<TokenStream>,
    /// The body's `self` becomes `__rebuff_self`.
    rebinds_self: bool,
}

/// One clone per by-value argument the body names; `mut` moves from the
/// parameter (where it would now be unused) to the per-attempt binding.
/// An argument the body does not name (one only the policy reads, say) is
/// not cloned: it needs no `Clone`, and no clone is left unused.
fn per_attempt_bindings(cx: &Ctxt, sig: &mut Signature, body: &TokenStream) -> Prelude {
    let mut prelude = Prelude {
        clones: Vec::new(),
        rebinds_self: false,
    };
    for input in &mut sig.inputs {
        match input {
            FnArg::Receiver(receiver) => {
                // `&self`, `self: &Self`, `self: Pin<&mut Self>`: a
                // borrow, borrowed again per attempt.
                if receiver.reference.is_some() || borrows(&receiver.ty) {
                    continue;
                }
                let mutability = receiver.mutability.take();
                let span = receiver.self_token.span;
                let binding = Ident::new("__rebuff_self", Span::call_site());
                prelude.clones.push(quote_spanned! {span=>
                    let #mutability #binding = ::rebuff::__private::RetryArg::__rebuff_clone(&self);
                });
                prelude.rebinds_self = true;
            }
            FnArg::Typed(typed) => {
                if reference(&typed.ty).is_some() {
                    continue;
                }
                match &mut *typed.pat {
                    Pat::Wild(_) => {}
                    Pat::Ident(pat) if !names(body.clone(), &pat.ident.to_string()) => {}
                    Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                        let mutability = pat.mutability.take();
                        let ident = &pat.ident;
                        let span = typed.ty.span();
                        prelude.clones.push(quote_spanned! {span=>
                            let #mutability #ident = ::rebuff::__private::RetryArg::__rebuff_clone(&#ident);
                        });
                    }
                    other => cx.error_spanned_by(
                        &*other,
                        "`#[retry]` clones by-value arguments for each attempt, which needs a name: bind this argument to a name (`arg: T`) and destructure it in the body",
                    ),
                }
            }
        }
    }
    prelude
}

/// Whether `expr` names a place (a `const` or `static`, a variable, a
/// field), which a borrow outlives; anything else (a call, an `if`, a
/// block, an element of a `const` array, a reference to a temporary) is
/// bound first.
fn is_place(expr: &syn::Expr) -> bool {
    match expr {
        syn::Expr::Path(_) | syn::Expr::Field(_) => true,
        syn::Expr::Paren(inner) => is_place(&inner.expr),
        syn::Expr::Group(inner) => is_place(&inner.expr),
        _ => false,
    }
}

/// `let __rebuff_policy_value = EXPR;` for a policy given as a temporary
/// or a reference (a call, an `if`, `&...`: anything but a place,
/// [`is_place`]), evaluated once per call of the function, before its
/// retries; nothing for a place (a path or a field is borrowed where it
/// is, and copies nothing into the retrying future).
fn policy_binding(args: &Args) -> TokenStream {
    match &args.policy {
        Some(policy) if !is_place(&policy.value) => {
            let expr = &policy.value;
            quote_spanned!(expr.span()=> let __rebuff_policy_value = #expr;)
        }
        _ => quote!(),
    }
}

fn policy_expr(args: &Args) -> TokenStream {
    if let Some(policy) = &args.policy {
        let expr = &policy.value;
        let span = expr.span();
        // `policy = &STATIC` is a reference already: borrowing it again would
        // be a needless borrow in the user's own tokens. It is bound first
        // ([`policy_binding`]), which keeps a `&Policy::new()`'s temporary
        // for the whole call.
        if let syn::Expr::Reference(_) = expr {
            return quote_spanned!(span=> ::rebuff::__private::PolicyRef::__rebuff_policy(__rebuff_policy_value));
        }
        // A call (a policy built in place, `self.policy()`) gives a
        // temporary, which a reference would not outlive: its value is bound
        // first ([`policy_binding`]), and this borrows the binding.
        if !is_place(expr) {
            return quote_spanned! {span=>
                {
                    #[allow(clippy::needless_borrow, clippy::needless_borrows_for_generic_args)]
                    let __rebuff_policy = ::rebuff::__private::PolicyRef::__rebuff_policy(&__rebuff_policy_value);
                    __rebuff_policy
                }
            };
        }
        // A `const` is borrowed (and promoted to `'static`); a `&Policy`
        // variable is borrowed too, which `PolicyRef` takes as well, so the
        // borrow is not needless whatever clippy sees of one call site.
        return quote_spanned! {span=>
            {
                #[allow(clippy::needless_borrow, clippy::needless_borrows_for_generic_args)]
                let __rebuff_policy = ::rebuff::__private::PolicyRef::__rebuff_policy(&(#expr));
                __rebuff_policy
            }
        };
    }
    if args.inline_written.is_empty() {
        return quote!(&::rebuff::Policy::DEFAULT);
    }
    let duration = |nanos: u64| quote!(::core::time::Duration::from_nanos(#nanos));
    let initial = args.initial_delay.as_ref().map(|d| duration(d.value.nanos));
    let one_second = duration(1_000_000_000);
    let mut chain = match args.backoff.as_ref().map(|b| b.value.value()).as_deref() {
        Some("constant") => {
            let delay = initial.clone().unwrap_or_else(|| one_second.clone());
            quote!(::rebuff::Policy::constant(#delay))
        }
        Some("linear") => {
            let delay = initial.clone().unwrap_or_else(|| one_second.clone());
            let step = args
                .step
                .as_ref()
                .map_or(one_second, |s| duration(s.value.nanos));
            quote!(::rebuff::Policy::linear(#delay, #step))
        }
        _ => match &initial {
            Some(initial) => quote!(::rebuff::Policy::exponential().initial_delay(#initial)),
            None => quote!(::rebuff::Policy::exponential()),
        },
    };
    if let Some(retries) = &args.max_retries {
        let value = &retries.value;
        chain.extend(quote!(.max_retries(#value)));
    }
    if let Some(factor) = &args.factor {
        let value = &factor.value;
        chain.extend(quote!(.factor(#value)));
    }
    for (setter, value) in [
        ("max_delay", &args.max_delay),
        ("deadline", &args.deadline),
        ("attempt_timeout", &args.attempt_timeout),
        ("max_retry_after", &args.max_retry_after),
    ] {
        if let Some(value) = value {
            let setter = Ident::new(setter, Span::call_site());
            let value = duration(value.value.nanos);
            chain.extend(quote!(.#setter(#value)));
        }
    }
    if let Some(jitter) = &args.jitter {
        let variant = match jitter.value.value().as_str() {
            "none" => quote!(None),
            "equal" => quote!(Equal),
            "decorrelated" => quote!(Decorrelated),
            _ => quote!(Full),
        };
        chain.extend(quote!(.jitter(::rebuff::Jitter::#variant)));
    }
    quote!({
        const __REBUFF_POLICY: ::rebuff::Policy = #chain;
        &__REBUFF_POLICY
    })
}

/// The run's extras: `WithExtras::NONE.when(...).on_retry(...)...` as the
/// arguments ask, `NoExtras` without hooks, breaker or budget (whose
/// checks then compile away).
fn extras(args: &Args) -> TokenStream {
    let mut hooks = TokenStream::new();
    if let Some(when) = &args.when {
        let path = &when.value;
        hooks.extend(quote!(.when(#path)));
    }
    if let Some(hook) = &args.on_retry {
        let path = &hook.value;
        hooks.extend(quote!(.on_retry(#path)));
    }
    if let Some(hook) = &args.on_give_up {
        let path = &hook.value;
        hooks.extend(quote!(.on_give_up(#path)));
    }
    for (method, shared) in [("breaker", &args.breaker), ("budget", &args.budget)] {
        if let Some(shared) = shared {
            let method = Ident::new(method, Span::call_site());
            let expr = &shared.value;
            let span = expr.span();
            // A `static` is borrowed; `&STATIC` is taken as it is.
            let reference = if let syn::Expr::Reference(_) = expr {
                quote!(#expr)
            } else {
                quote_spanned!(span=> &#expr)
            };
            hooks.extend(quote_spanned!(span=> .#method(#reference)));
        }
    }
    if hooks.is_empty() {
        quote!(::rebuff::__private::NoExtras)
    } else {
        quote!(::rebuff::__private::WithExtras::NONE #hooks)
    }
}

/// Replaces `impl Trait` with `_` in the closure's return type, where
/// `impl Trait` may not be written.
struct EraseImplTrait;

impl VisitMut for EraseImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(imp) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: syn::Token![_](imp.impl_token.span),
            });
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

/// Renames `self` to `__rebuff_self` in a body, leaving nested items
/// (`fn`, `impl`, `trait`, `mod`), whose `self` is another one, untouched,
/// and paths that start at the current module (`self::helper`). A `fn(...)`
/// pointer type is no item.
fn rename_self(tokens: TokenStream) -> TokenStream {
    let mut out = Vec::new();
    let mut in_item = false;
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Ident(ident)
                if ident == "fn" || ident == "impl" || ident == "trait" || ident == "mod" =>
            {
                let pointer_type = ident == "fn"
                    && matches!(tokens.peek(), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis);
                if !pointer_type {
                    in_item = true;
                }
                out.push(TokenTree::Ident(ident));
            }
            TokenTree::Ident(ident) if ident == "self" && !in_item => {
                let path = matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ':');
                if path {
                    out.push(TokenTree::Ident(ident));
                } else {
                    out.push(TokenTree::Ident(Ident::new("__rebuff_self", ident.span())));
                }
            }
            TokenTree::Group(group) if in_item && group.delimiter() == Delimiter::Brace => {
                // The nested item's body ends the item.
                in_item = false;
                out.push(TokenTree::Group(group));
            }
            TokenTree::Group(group) if !in_item => {
                let mut renamed = Group::new(group.delimiter(), rename_self(group.stream()));
                renamed.set_span(group.span());
                out.push(TokenTree::Group(renamed));
            }
            other => out.push(other),
        }
    }
    out.into_iter().collect()
}

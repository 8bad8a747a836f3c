//! Code generation for `#[derive(ApiError)]`.
//!
//! Input:
//!
//! ```text
//! #[derive(ApiError)]
//! enum E {
//!     #[api(status = 429, message = "Try again in {secs} seconds.")]
//!     RateLimited { #[api(retry_after)] secs: u64 },
//! }
//! ```
//!
//! Output: one `impl ::rebuff::ApiError for E` whose methods each `match
//! self` with one arm per variant, binding only the fields that method
//! reads (`Self::RateLimited { secs: __rebuff_secs, .. } => ...`), and
//! beside it one `const` check per code (see [`rejection::clashes`]). Every
//! path is absolute (`::core`, `::rebuff::__private`, `::rebuff::serde`),
//! so the impl compiles under `#![no_implicit_prelude]` and beside user
//! types named `Result` or `Option`.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::{DeriveInput, Ident};

use crate::ast::{Field, Input};
use crate::case::Case;
use crate::ctxt::Ctxt;
use crate::fmt::Template;
use crate::symbol::ERROR;
use crate::{fallback, valid};

use self::bounds::Bounds;
use self::plan::{Detail, Plan};

mod bounds;
mod catalog;
mod decode;
mod openapi;
mod plan;
mod rejection;

/// The derive: the impls, or every error found plus the fallback impl, so
/// one mistake does not bury the rest of the user's crate in errors.
pub(crate) fn derive(node: &DeriveInput) -> TokenStream {
    let tokens = match try_expand(node) {
        Ok(tokens) => tokens,
        Err(err) => {
            let errors = err.to_compile_error();
            let fallback = fallback::expand(node);
            quote!(#errors #fallback)
        }
    };
    match crate::reroot::crate_of(&node.attrs) {
        Some(root) => crate::reroot::reroot(tokens, &root),
        None => tokens,
    }
}

/// Parse (the AST and its attributes), validate (the rules across
/// attributes), plan each variant, then expand; nothing is expanded unless
/// every earlier step reported no error.
fn try_expand(node: &DeriveInput) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let input = Input::from_syn(&cx, node);
    valid::validate(&cx, &input);
    let plans: Vec<Plan<'_, '_>> = input
        .variants()
        .iter()
        .map(|v| Plan::new(&cx, &input, v))
        .collect();
    cx.check()?;
    Ok(expand(&input, &plans))
}

// One `quote!` of the whole impl, so a reader sees the generated shape at once.
#[allow(clippy::too_many_lines)]
fn expand(input: &Input<'_>, plans: &[Plan<'_, '_>]) -> TokenStream {
    let node = input.original;
    let ty = &node.ident;
    let (impl_generics, ty_generics, where_clause) = node.generics.split_for_impl();
    let mut bounds = Bounds::new(&node.generics);

    let envelope = match &input.attrs.envelope {
        Some(path) => path.value.to_token_stream(),
        None => quote!(::rebuff::envelope::Nested),
    };
    let type_base = match &input.attrs.type_base {
        Some(base) => {
            let lit = &base.value;
            quote!(::core::option::Option::Some(#lit))
        }
        None => quote!(::core::option::Option::None),
    };
    let code_case = input
        .attrs
        .code_case
        .as_ref()
        .map_or(Case::Snake, |case| case.value)
        .tokens();
    let key_case = match &input.attrs.rename_all {
        Some(case) => {
            let case = case.value.tokens();
            quote!(::core::option::Option::Some(#case))
        }
        None => quote!(::core::option::Option::None),
    };

    let status = method(plans, |p| {
        let status = p.variant.attrs.status.as_ref().map(|s| &s.value);
        match p.transparent() {
            Some(field) => arm(p, &[field], delegate(field, quote!(status), quote!())),
            None => arm(p, &[], quote!(#status)),
        }
    });
    let code = method(plans, |p| match p.transparent() {
        Some(field) => arm(p, &[field], delegate(field, quote!(code), quote!())),
        None => {
            let code = &p.variant.code;
            arm(p, &[], quote!(#code))
        }
    });
    let fmt_message = method(plans, |p| fmt_message_arm(p, &mut bounds));
    let message_str = method(plans, |p| match p.transparent() {
        Some(field) => arm(p, &[field], delegate(field, quote!(message_str), quote!())),
        None => {
            let text = p.constant_message();
            match text {
                Some(text) => arm(p, &[], quote!(::core::option::Option::Some(#text))),
                None => arm(p, &[], quote!(::core::option::Option::None)),
            }
        }
    });
    let type_uri = method(plans, |p| match (p.transparent(), &input.attrs.type_base) {
        (Some(field), _) => arm(p, &[field], delegate(field, quote!(type_uri), quote!())),
        (None, Some(base)) => {
            let base = base.value.value();
            let sep = if base.ends_with('/') { "" } else { "/" };
            let uri = format!("{base}{sep}{}", p.variant.code);
            arm(p, &[], quote!(::core::option::Option::Some(#uri)))
        }
        (None, None) => arm(p, &[], quote!(::core::option::Option::None)),
    });
    let has_details = method(plans, |p| match p.transparent() {
        Some(field) => arm(p, &[field], delegate(field, quote!(has_details), quote!())),
        None => {
            let any = !p.details.is_empty();
            arm(p, &[], quote!(#any))
        }
    });
    let serialize_details = method(plans, |p| serialize_details_arm(p, &mut bounds));
    let retry_after = method(plans, |p| role_arm(p, &mut bounds, Role::RetryAfter));
    let rate_limit = method(plans, |p| role_arm(p, &mut bounds, Role::RateLimit));
    let has_errors = method(plans, |p| match p.transparent() {
        Some(field) => arm(p, &[field], delegate(field, quote!(has_errors), quote!())),
        None => {
            let any = p.errors.is_some();
            arm(p, &[], quote!(#any))
        }
    });
    let serialize_errors = method(plans, |p| role_arm(p, &mut bounds, Role::Errors));
    let retryable = method(plans, |p| match p.transparent() {
        Some(field) => arm(p, &[field], delegate(field, quote!(retryable), quote!())),
        None => {
            let retryable = p.retryable;
            arm(p, &[], quote!(#retryable))
        }
    });
    let catalog: Vec<TokenStream> = plans
        .iter()
        .map(|p| catalog::entry(p, &mut bounds))
        .collect();
    let from_rejection = rejection::from_rejection(input, plans, &mut bounds);
    let timeout_variant = plans
        .iter()
        .find(|p| p.variant.attrs.timeout.is_some() && p.variant.fields.is_empty());
    let from_timeout = timeout_variant.map(|p| {
        let path = p.path();
        quote! {
            fn from_timeout() -> ::core::option::Option<fn(::rebuff::retry::TimedOut) -> Self> {
                ::core::option::Option::Some(|_| #path {})
            }
        }
    });
    let clashes = rejection::clashes(input, plans);

    for plan in plans {
        if let Some(field) = plan.transparent() {
            bounds.require(field.ty, quote!(::rebuff::ApiError));
        }
    }
    let (where_clause, predicates) = bounds.extend(where_clause);
    // thiserror's `#[error]` means the type has `Display` and `Error`, which
    // actix-web's `ResponseError` requires of it.
    let has_display = node
        .attrs
        .iter()
        .chain(
            input
                .variants()
                .iter()
                .flat_map(|v| v.original_attrs.iter()),
        )
        .any(|a| a.path().is_ident(ERROR));
    let display = if has_display {
        quote!(display)
    } else {
        quote!()
    };
    let openapi = openapi::expand(input, plans, &predicates);
    let examples = openapi::examples(input, plans);
    // A generic type is `Debug` and `Display` only for some parameters: say
    // so, as the framework traits need both.
    let mut predicates = predicates;
    if has_display && !node.generics.params.is_empty() {
        predicates.push(quote!(Self: ::core::fmt::Debug + ::core::fmt::Display));
    }
    let frameworks = quote! {
        ::rebuff::__rebuff_frameworks! { [#display] [#impl_generics] [#ty #ty_generics] [#(#predicates,)*] }
    };

    let decode = if input.attrs.decode.is_some() {
        decode::expand(input, plans)
    } else {
        TokenStream::new()
    };
    // What `#[retry(attempt_timeout = ...)]` asks of the error type.
    let can_time_out = timeout_variant.map(|_| {
        quote! {
            #[automatically_derived]
            impl #impl_generics ::rebuff::CanTimeOut for #ty #ty_generics #where_clause {}
        }
    });

    quote! {
        #clashes
        #decode
        #frameworks
        #openapi
        #examples
        #can_time_out

        #[automatically_derived]
        #[allow(unused_qualifications, clippy::needless_lifetimes, clippy::match_same_arms)]
        impl #impl_generics ::rebuff::ApiError for #ty #ty_generics #where_clause {
            type Envelope = #envelope;
            const CATALOG: &'static [::rebuff::__private::Entry] = &[#(#catalog),*];
            const STYLE: ::rebuff::Style = ::rebuff::Style {
                code_case: #code_case,
                key_case: #key_case,
                type_base: #type_base,
            };

            fn status(&self) -> ::rebuff::__private::StatusCode {
                #status
            }

            fn code(&self) -> &::core::primitive::str {
                #code
            }

            fn fmt_message(&self, __rebuff_f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                #fmt_message
            }

            fn message_str(&self) -> ::core::option::Option<&::core::primitive::str> {
                #message_str
            }

            fn type_uri(&self) -> ::core::option::Option<&::core::primitive::str> {
                #type_uri
            }

            fn has_details(&self) -> ::core::primitive::bool {
                #has_details
            }

            fn serialize_details<__RebuffMap: ::rebuff::serde::ser::SerializeMap>(
                &self,
                __rebuff_map: &mut __RebuffMap,
            ) -> ::core::result::Result<(), __RebuffMap::Error> {
                #serialize_details
            }

            fn retry_after(&self) -> ::core::option::Option<::core::time::Duration> {
                #retry_after
            }

            fn retryable(&self) -> ::core::primitive::bool {
                #retryable
            }

            fn rate_limit(&self) -> ::core::option::Option<::rebuff::RateLimit> {
                #rate_limit
            }

            fn has_errors(&self) -> ::core::primitive::bool {
                #has_errors
            }

            fn serialize_errors<__RebuffSer: ::rebuff::serde::Serializer>(
                &self,
                __rebuff_ser: __RebuffSer,
            ) -> ::core::result::Result<__RebuffSer::Ok, __RebuffSer::Error> {
                #serialize_errors
            }

            #from_rejection
            #from_timeout
        }
    }
}

/// `match self { arms }`, or the arm's body alone for a struct.
fn method<'v, 'a>(
    plans: &[Plan<'v, 'a>],
    mut arm: impl FnMut(&Plan<'v, 'a>) -> TokenStream,
) -> TokenStream {
    if plans.is_empty() {
        return quote!(match *self {});
    }
    let arms = plans.iter().map(&mut arm);
    quote!(match self { #(#arms)* })
}

/// `Self::Variant { field: __rebuff_field, .. } => body,` binding `fields`.
fn arm(plan: &Plan<'_, '_>, fields: &[&Field<'_>], body: TokenStream) -> TokenStream {
    let path = plan.path();
    let mut seen = BTreeSet::new();
    let bindings = fields.iter().filter(|f| seen.insert(f.name())).map(|f| {
        let member = &f.member;
        let binding = f.binding();
        quote!(#member: #binding)
    });
    quote!(#path { #(#bindings,)* .. } => { #body })
}

/// `::rebuff::ApiError::method(__rebuff_0, args)`
fn delegate(field: &Field<'_>, method: TokenStream, args: TokenStream) -> TokenStream {
    let binding = field.binding();
    quote!(::rebuff::ApiError::#method(#binding #args))
}

fn fmt_message_arm(plan: &Plan<'_, '_>, bounds: &mut Bounds) -> TokenStream {
    if let Some(field) = plan.transparent() {
        return arm(
            plan,
            &[field],
            delegate(field, quote!(fmt_message), quote!(, __rebuff_f)),
        );
    }
    let fields = &plan.variant.fields;
    match &plan.template {
        Some(Template {
            constant: Some(text),
            ..
        }) => arm(plan, &[], quote!(__rebuff_f.write_str(#text))),
        Some(Template {
            lit, args, uses, ..
        }) => {
            for (index, shown) in uses {
                let shown = Ident::new(shown, Span::call_site());
                bounds.require(fields[*index].ty, quote!(::core::fmt::#shown));
            }
            let used: Vec<&Field<'_>> = args.iter().map(|(_, i)| &fields[*i]).collect();
            let named = args.iter().map(|(name, index)| {
                let name = Ident::new(name, Span::call_site());
                // At the field's type: a field that cannot be shown so is
                // reported there.
                let binding = fields[*index].binding_at_type();
                quote!(#name = #binding)
            });
            arm(
                plan,
                &used,
                quote!(::core::write!(__rebuff_f, #lit, #(#named),*)),
            )
        }
        None => {
            let status = plan.variant.attrs.status.as_ref().map(|s| &s.value);
            match status {
                Some(status) if status.code >= 500 => match status.reason {
                    Some(reason) => arm(plan, &[], quote!(__rebuff_f.write_str(#reason))),
                    None => arm(
                        plan,
                        &[],
                        quote!(::rebuff::__private::fmt_reason(#status, __rebuff_f)),
                    ),
                },
                _ => {
                    // The 4xx default is the type's own `Display`; a type
                    // without one gets rustc's error on this variant.
                    bounds.require_self_display();
                    let span = plan.variant.ident.span();
                    arm(
                        plan,
                        &[],
                        quote_spanned!(span=> ::rebuff::__private::DisplayMessage::__rebuff_fmt(self, __rebuff_f)),
                    )
                }
            }
        }
    }
}

fn serialize_details_arm(plan: &Plan<'_, '_>, bounds: &mut Bounds) -> TokenStream {
    if let Some(field) = plan.transparent() {
        return arm(
            plan,
            &[field],
            delegate(field, quote!(serialize_details), quote!(, __rebuff_map)),
        );
    }
    let used: Vec<&Field<'_>> = plan.details.iter().map(Detail::field).collect();
    // `<Type as Trait>::method(..)` spanned at the field's type: a type
    // without the trait is reported there, not at the derive.
    let writes = plan.details.iter().map(|detail| {
        let field = detail.field();
        let ty = field.ty;
        let binding = field.binding_at_type();
        let span = syn::spanned::Spanned::span(ty);
        match detail {
            // The delay as `Retry-After` sends it, whole seconds; the list
            // of messages as strings: one shape for one value, whatever
            // the field's type.
            Detail::Entry(key, _) if field.attrs.retry_after.is_some() => {
                bounds.require(ty, quote!(::rebuff::__private::RetryAfterField));
                quote_spanned! {span=>
                    ::rebuff::serde::ser::SerializeMap::serialize_entry(
                        __rebuff_map,
                        #key,
                        &::rebuff::__private::RetryAfterSecs(
                            <#ty as ::rebuff::__private::RetryAfterField>::__rebuff_retry_after(#binding),
                        ),
                    )?;
                }
            }
            Detail::Entry(key, _) if field.attrs.errors.is_some() => {
                bounds.require(ty, quote!(::rebuff::__private::ErrorsField));
                quote_spanned! {span=>
                    <#ty as ::rebuff::__private::ErrorsField>::__rebuff_entry(#binding, __rebuff_map, #key)?;
                }
            }
            Detail::Entry(key, _) => {
                bounds.require(ty, quote!(::rebuff::serde::Serialize));
                quote_spanned! {span=>
                    <#ty as ::rebuff::__private::DetailField>::__rebuff_entry(#binding, __rebuff_map, #key)?;
                }
            }
            Detail::Flatten(_) => {
                bounds.require(ty, quote!(::rebuff::serde::Serialize));
                quote_spanned! {span=>
                    <#ty as ::rebuff::__private::DetailField>::__rebuff_flatten(#binding, __rebuff_map)?;
                }
            }
        }
    });
    arm(
        plan,
        &used,
        quote!(#(#writes)* ::core::result::Result::Ok(())),
    )
}

#[derive(Clone, Copy)]
enum Role {
    RetryAfter,
    RateLimit,
    Errors,
}

/// The methods answered by the one field holding a role, or by a default.
fn role_arm(plan: &Plan<'_, '_>, bounds: &mut Bounds, role: Role) -> TokenStream {
    let (method, args) = match role {
        Role::RetryAfter => (quote!(retry_after), quote!()),
        Role::RateLimit => (quote!(rate_limit), quote!()),
        Role::Errors => (quote!(serialize_errors), quote!(, __rebuff_ser)),
    };
    if let Some(field) = plan.transparent() {
        return arm(plan, &[field], delegate(field, method, args));
    }
    let holder = match role {
        Role::RetryAfter => plan
            .variant
            .fields
            .iter()
            .find(|f| f.attrs.retry_after.is_some()),
        Role::RateLimit => plan
            .variant
            .fields
            .iter()
            .find(|f| f.attrs.rate_limit.is_some()),
        // Hidden on a 5xx unless exposed, as details are.
        Role::Errors => plan.errors,
    };
    let Some(field) = holder else {
        let default = match role {
            Role::RetryAfter | Role::RateLimit => quote!(::core::option::Option::None),
            Role::Errors => quote! {
                ::rebuff::serde::Serializer::collect_seq(__rebuff_ser, ::core::iter::empty::<&::core::primitive::str>())
            },
        };
        return arm(plan, &[], default);
    };
    let ty = field.ty;
    let binding = field.binding_at_type();
    let span = syn::spanned::Spanned::span(ty);
    let body = match role {
        Role::RetryAfter => {
            bounds.require(ty, quote!(::rebuff::__private::RetryAfterField));
            quote_spanned!(span=> <#ty as ::rebuff::__private::RetryAfterField>::__rebuff_retry_after(#binding))
        }
        Role::RateLimit => {
            bounds.require(ty, quote!(::rebuff::__private::RateLimitField));
            quote_spanned!(span=> <#ty as ::rebuff::__private::RateLimitField>::__rebuff_rate_limit(#binding))
        }
        Role::Errors => {
            bounds.require(ty, quote!(::rebuff::__private::ErrorsField));
            quote_spanned!(span=> <#ty as ::rebuff::__private::ErrorsField>::__rebuff_serialize(#binding, __rebuff_ser))
        }
    };
    arm(plan, &[field], body)
}

//! The macros of [rebuff](https://docs.rs/rebuff). Depend on `rebuff`, which
//! re-exports them and documents every attribute; this crate holds no runtime
//! code, and the code it generates names only `::rebuff::...` paths (or,
//! with `crate = path`, paths from there).
#![forbid(unsafe_code)]
// Token streams are built by one function and handed to the next, which
// interpolates them by reference: taking them by value keeps call sites plain.
#![allow(clippy::needless_pass_by_value)]

mod ast;
mod attr;
mod case;
mod ctxt;
mod expand;
mod fallback;
mod fmt;
mod reroot;
mod retry;
mod status;
mod suggest;
mod symbol;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `rebuff::ApiError`; see its documentation in the `rebuff` crate.
#[proc_macro_derive(ApiError, attributes(api))]
pub fn derive_api_error(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}

/// Retries the function; see its documentation in the `rebuff` crate.
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    retry::expand(args.into(), item.into()).into()
}

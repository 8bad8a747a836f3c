//! The OpenAPI documents the derive and the server surface give (feature
//! `openapi`): every example valid against its own schema and byte for byte
//! what the server renders, in every envelope; every status's errors
//! listed; the documents valid OpenAPI 3.1; and the leads and calls
//! examples serving their documents at `/openapi.json`.
//!
//! Run: `cargo test -p rebuff-suite --features openapi --test openapi`.

mod calls_api;
mod check;
mod envelopes;
#[path = "../support/head_only.rs"]
mod head_only;
mod leads_api;
mod served;
mod shapes;
mod statuses;
mod surface;

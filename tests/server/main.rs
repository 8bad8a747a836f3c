//! The server side: `#[derive(ApiError)]` attribute by attribute, every
//! envelope byte for byte as the public guides print them, the generated
//! code under strict lints and without the prelude, and real servers
//! (axum, actix-web) over loopback: their rejections, the example APIs,
//! idempotency keys.

mod calls_api;
mod derive;
#[path = "../support/head_only.rs"]
mod head_only;
mod hygiene;
mod idempotency;
mod idempotency_surface;
mod integrations;
mod leads_api;
#[allow(dead_code)] // each binary reads what it needs
#[path = "../support/log_lines.rs"]
mod log_lines;
mod network_props;
// Public, so that `missing_docs` in it looks at the derive's output.
pub mod lints;
mod ratelimit;
mod seeds;
mod smoke;
mod surface;
mod surface_composed;
mod surface_foreign;
mod surface_idempotency;
mod surface_idempotency_rules;
mod surface_limits;
mod surface_logs;

//! Retrying and resilience: the engine's delays, hints, deadlines and test
//! mode; `#[retry]` on every shape of function; attempt timeouts and
//! deadlines at every entry point against a server that never answers; the
//! breaker and the budget; and a thousand calls through injected faults.

mod attribute;
mod engine;
mod fault_injection;
mod resilience;
mod timeouts;

#[allow(dead_code)] // each binary reads what it needs
#[path = "../support/log_lines.rs"]
mod log_lines;
#[path = "../support/silent.rs"]
mod silent;

//! Retrying and resilience: the engine's delays, hints, deadlines and test
//! mode; `#[retry]` on every shape of function; attempt timeouts and
//! deadlines at every entry point against a server that never answers; the
//! breaker and the budget; and a thousand calls through injected faults.

mod attribute;
mod engine;
mod fault_injection;
mod resilience;
mod timeouts;

#[path = "../support/silent.rs"]
mod silent;

//! Tower's readiness, kept: the service a caller made ready is the one that
//! serves its request.

/// The service `poll_ready` was asked of (and which may hold a buffer's
/// slot or a concurrency permit for the call), with a clone left in its
/// place for the next caller to make ready.
pub(crate) fn take_ready<S: Clone>(service: &mut S) -> S {
    let clone = service.clone();
    core::mem::replace(service, clone)
}

/// Which rate-limit header families a response carries: the
/// `X-RateLimit-*` ones (`legacy`), the IETF `RateLimit-Policy` and
/// `RateLimit` (`ietf`). What a limiter sends, and what a document shows.
#[cfg(any(feature = "ratelimit", feature = "openapi"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Families {
    pub(crate) legacy: bool,
    pub(crate) ietf: bool,
}

/// The state of a rate limit, as the `X-RateLimit-*` headers report it.
///
/// A field marked `#[api(rate_limit)]` of this type (or `Option` of it) adds
/// the three headers to the response; it is not part of `details`.
///
/// ```
/// let limits = rebuff::RateLimit { limit: 60, remaining: 0, reset: 1_699_564_832 };
/// assert_eq!(limits.limit, 60);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct RateLimit {
    /// Requests allowed in the window (`X-RateLimit-Limit`).
    pub limit: u64,
    /// Requests left in the current window (`X-RateLimit-Remaining`).
    pub remaining: u64,
    /// When the window resets, in seconds since the Unix epoch
    /// (`X-RateLimit-Reset`).
    pub reset: u64,
}

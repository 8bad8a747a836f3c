//! [`Surface`]: the error surface of a server, configured once and taken
//! from its error type; the axum layer and the actix-web middleware are two
//! adapters of the decisions made here.

use core::fmt;
use core::marker::PhantomData;

#[cfg(feature = "axum")]
use http::HeaderMap;
use http::{HeaderValue, StatusCode};

use super::idempotency::IdempotencyKeys;
use super::{negotiate, request_id_bytes};
use crate::context::RequestPath;
use crate::{ApiError, Context, Rejection, RejectionKind};

/// The body limit when none is set: 2 MiB, as axum and actix-web default
/// to.
pub const DEFAULT_BODY_LIMIT: u64 = 2 * 1024 * 1024;

/// The whole error surface of a server whose errors are `E`, in one value:
/// an axum (tower) layer with the `axum` feature, an actix-web middleware
/// with the `actix` feature.
///
/// Everything is taken from `E`: its envelope and style for the server's
/// own [`Rejection`]s, its variants that answer rejections. See the
/// [module docs](super) for what the surface does.
///
/// # Default
///
/// A body limit of [`DEFAULT_BODY_LIMIT`], content negotiation on, panics
/// answered.
pub struct Surface<E> {
    body_limit: Option<u64>,
    negotiate: bool,
    catch_panics: bool,
    #[cfg(feature = "ratelimit")]
    limiter: Option<std::sync::Arc<crate::ratelimit::RateLimiter>>,
    idempotency: Option<std::sync::Arc<IdempotencyKeys>>,
    _errors: PhantomData<fn() -> E>,
}

impl<E> Clone for Surface<E> {
    fn clone(&self) -> Self {
        Surface {
            body_limit: self.body_limit,
            negotiate: self.negotiate,
            catch_panics: self.catch_panics,
            #[cfg(feature = "ratelimit")]
            limiter: self.limiter.clone(),
            idempotency: self.idempotency.clone(),
            _errors: PhantomData,
        }
    }
}

impl<E> fmt::Debug for Surface<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = f.debug_struct("Surface");
        f.field("errors", &core::any::type_name::<E>())
            .field("body_limit", &self.body_limit)
            .field("negotiate", &self.negotiate)
            .field("catch_panics", &self.catch_panics);
        #[cfg(feature = "ratelimit")]
        f.field("rate_limit", &self.limiter);
        f.field("idempotency", &self.idempotency);
        f.finish()
    }
}

impl<E: ApiError> Default for Surface<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: ApiError> Surface<E> {
    /// The surface with its defaults (see [`Surface`]).
    #[must_use]
    pub fn new() -> Self {
        Surface {
            body_limit: Some(DEFAULT_BODY_LIMIT),
            negotiate: true,
            catch_panics: true,
            #[cfg(feature = "ratelimit")]
            limiter: None,
            idempotency: None,
            _errors: PhantomData,
        }
    }

    /// Limits requests by `limiter`'s plans: the rate-limit headers on
    /// every response, a caller over its limit answered with a 429 in `E`'s
    /// envelope (see [`crate::ratelimit`]).
    ///
    /// Clones of the surface share the limiter. On actix-web, build the
    /// surface once, outside `HttpServer::new`'s factory, and clone it in:
    /// the factory runs once per worker, and a surface built inside it
    /// gives each worker limits of its own (with four workers, four times
    /// the quota).
    #[cfg(feature = "ratelimit")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ratelimit")))]
    #[must_use]
    pub fn rate_limit(mut self, limiter: crate::ratelimit::RateLimiter) -> Self {
        self.limiter = Some(std::sync::Arc::new(limiter));
        self
    }

    /// The rate limiter, if any.
    #[cfg(feature = "ratelimit")]
    pub(crate) fn limiter(&self) -> Option<&std::sync::Arc<crate::ratelimit::RateLimiter>> {
        self.limiter.as_ref()
    }

    /// Honours idempotency keys on every route: a request of a method that
    /// is not idempotent (POST, PATCH) with an `Idempotency-Key` is served
    /// once, its retries answered with its first response (see
    /// [`IdempotencyKeys`]). Keys are claimed after the rate limit and
    /// under the body limit, every keyed body the limit admits
    /// fingerprinted.
    ///
    /// Clones of the surface share the keys' store. On actix-web, build
    /// the surface once, outside `HttpServer::new`'s factory, and clone it
    /// in: a surface built inside it gives each worker a store of its own,
    /// and a retry that reaches another worker is served again.
    #[must_use]
    pub fn idempotency(mut self, keys: IdempotencyKeys) -> Self {
        self.idempotency = Some(std::sync::Arc::new(keys));
        self
    }

    /// The idempotency keys, if any.
    pub(crate) fn idempotency_keys(&self) -> Option<&IdempotencyKeys> {
        self.idempotency.as_deref()
    }

    /// Refuses request bodies over `bytes` with a 413
    /// [`Rejection::PayloadTooLarge`]: before the handler runs when
    /// `Content-Length` says so, else as soon as the body read passes the
    /// limit (a chunked body included).
    ///
    /// A handler that reads the body itself sees the limit as a read
    /// error. Left to the framework (actix-web's `PayloadError` returned as
    /// an `actix_web::Error`; axum's `Bytes` and `String` extractors), it is
    /// answered with the 413. Mapped into one of the API's own 5xx
    /// variants, it goes out as that 5xx, which a client retries for a
    /// body that can never pass: answer it with a 4xx of the API's, or
    /// [`Rejection::PayloadTooLarge`](crate::Rejection::PayloadTooLarge).
    #[must_use]
    pub fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = Some(bytes);
        self
    }

    /// No body limit at all (the frameworks' own defaults lifted too).
    /// Idempotency keys then fingerprint keyed bodies up to 2 MiB unless
    /// told otherwise ([`IdempotencyKeys::max_request_body`]), and refuse a
    /// larger keyed body with a 413.
    #[must_use]
    pub fn no_body_limit(mut self) -> Self {
        self.body_limit = None;
        self
    }

    /// Whether clients that prefer `application/problem+json` get RFC 9457
    /// problem details (default: yes).
    #[must_use]
    pub fn negotiate(mut self, on: bool) -> Self {
        self.negotiate = on;
        self
    }

    /// Whether a handler's panic is answered with a 500 in the envelope
    /// (default: yes). Off, the panic unwinds to the framework.
    ///
    /// A caught panic is logged once by the surface (`handler panicked`,
    /// at `ERROR`, with the request id and the panic's message; the client
    /// sees none of it). Rust's panic hook still runs first, and the
    /// standard one prints the message (and a backtrace, if enabled) to
    /// standard error; a server that wants its panics in its logs only
    /// replaces it with [`std::panic::set_hook`].
    #[must_use]
    pub fn catch_panics(mut self, on: bool) -> Self {
        self.catch_panics = on;
        self
    }

    /// The body limit, if any.
    #[must_use]
    pub const fn get_body_limit(&self) -> Option<u64> {
        self.body_limit
    }

    /// The rejections the surface, as configured, can answer a request to
    /// any route with, whatever the route does: a 500 (a panic, or a 500,
    /// 502 or 504 rebuff did not render), a 413 with a body limit, the rate limiter's
    /// 429s (over the limit, and blocked with escalation; a 503 on the
    /// requests that fail closed), the idempotency keys' 409, 422, 503 (the
    /// store away: only for a store that
    /// [can fail](super::idempotency::IdempotencyStore::can_fail), not a
    /// `MemoryStore`), 400s (an unusable `Idempotency-Key`, a keyed body that cannot
    /// be read) and 413 (a keyed body too large to fingerprint), which
    /// only routes of methods keys apply to answer
    /// ([`rejections_on`](Self::rejections_on) leaves them out for the
    /// others). Not the
    /// router's 404 and 405, which answer routes that do not exist, nor the
    /// extractors' rejections, which depend on the route, nor the 503 a
    /// layer inside the surface may answer (a load shedder's, answered as
    /// [`Rejection::Unavailable`]). For an API's document: see
    /// `rebuff::openapi::Responses::surface` (feature `openapi`).
    ///
    /// ```
    /// # #[derive(Debug, rebuff::ApiError)]
    /// # #[api(status = 404, message = "Gone")]
    /// # struct Gone;
    /// use rebuff::RejectionKind;
    /// use rebuff::server::Surface;
    ///
    /// let surface = Surface::<Gone>::new();
    /// assert_eq!(
    ///     surface.rejections(),
    ///     [RejectionKind::Internal, RejectionKind::PayloadTooLarge]
    /// );
    /// ```
    #[must_use]
    pub fn rejections(&self) -> Vec<RejectionKind> {
        self.answers(true)
    }

    /// The rejections, with the idempotency keys' answers if `keyed`.
    fn answers(&self, keyed: bool) -> Vec<RejectionKind> {
        use RejectionKind::{
            BadRequest, IdempotencyKeyReused, Internal, InvalidHeader, PayloadTooLarge,
            RequestInProgress, Unavailable,
        };
        let mut answers = vec![Internal];
        answers.extend(self.body_limit.map(|_| PayloadTooLarge));
        #[cfg(feature = "ratelimit")]
        if let Some(limiter) = &self.limiter {
            answers.extend(limiter.answers().0);
        }
        if let Some(keys) = self.idempotency.as_ref().filter(|_| keyed) {
            answers.extend([RequestInProgress, IdempotencyKeyReused]);
            // A store that cannot fail never refuses a claim with a 503.
            answers.extend(keys.store().can_fail().then_some(Unavailable));
            answers.extend([InvalidHeader, BadRequest, PayloadTooLarge]);
        }
        // Each once (a 503 can be both the limiter's and the keys').
        let mut kinds = Vec::with_capacity(answers.len());
        for kind in answers {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        kinds
    }

    /// [`rejections`](Self::rejections) of a route answering `method`:
    /// without the idempotency keys' answers on a method they do not apply
    /// to (GET, HEAD, PUT, DELETE, OPTIONS, TRACE).
    ///
    /// ```
    /// # #[derive(Debug, rebuff::ApiError)]
    /// # #[api(status = 404, message = "Gone")]
    /// # struct Gone;
    /// use std::time::Duration;
    /// use rebuff::RejectionKind;
    /// use rebuff::http::Method;
    /// use rebuff::server::Surface;
    /// use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};
    ///
    /// let keys = IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(60)));
    /// let surface = Surface::<Gone>::new().idempotency(keys);
    /// assert!(surface.rejections_on(&Method::POST).contains(&RejectionKind::IdempotencyKeyReused));
    /// assert_eq!(
    ///     surface.rejections_on(&Method::GET),
    ///     [RejectionKind::Internal, RejectionKind::PayloadTooLarge]
    /// );
    /// ```
    #[must_use]
    pub fn rejections_on(&self, method: &http::Method) -> Vec<RejectionKind> {
        self.answers(!crate::client::is_idempotent(method))
    }

    /// With a rate limiter, which of its header families every response
    /// carries: the `X-RateLimit-*` ones, the IETF ones.
    #[cfg(feature = "openapi")]
    #[cfg_attr(not(feature = "ratelimit"), allow(clippy::unused_self))]
    pub(crate) fn rate_limit_families(&self) -> Option<crate::rate_limit::Families> {
        #[cfg(feature = "ratelimit")]
        return self.limiter.as_ref().map(|limiter| limiter.answers().1);
        #[cfg(not(feature = "ratelimit"))]
        None
    }

    /// Whether clients that prefer problem details get them.
    #[cfg(feature = "openapi")]
    pub(crate) const fn negotiates(&self) -> bool {
        self.negotiate
    }

    pub(crate) const fn catches_panics(&self) -> bool {
        self.catch_panics
    }

    /// The context of a request: its id (`id`, the first safe one of the
    /// id an id layer chose and the client's `X-Request-Id`, else a new
    /// one), the format its `Accept` values negotiate, the time (read when
    /// an error is rendered), and rejections rendered as `E`'s, for a
    /// request to `path`.
    #[inline]
    pub(crate) fn context<'a>(
        &self,
        id: Option<HeaderValue>,
        accept: impl IntoIterator<Item = &'a [u8]>,
        path: RequestPath,
    ) -> Context {
        let id = id.unwrap_or_else(new_id_value);
        let problem = self.negotiate && negotiate::prefers_problem(accept);
        Context::served::<E>(id, path, problem, self.body_limit)
    }

    /// The 413 for a body whose declared length (`Content-Length`) is over
    /// the limit, before any of it is read.
    #[cfg(feature = "actix")]
    pub(crate) fn refuse_declared(&self, content_length: Option<&[u8]>) -> Option<Rejection> {
        let limit = self.body_limit?;
        let declared = core::str::from_utf8(content_length?)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()?;
        (declared > limit).then_some(Rejection::PayloadTooLarge {
            file_size: Some(declared),
            max_size: limit,
        })
    }

    /// The 413 for a body whose exact size is known (from
    /// `Content-Length`) to be over the limit.
    #[cfg(feature = "axum")]
    pub(crate) fn refuse_size(&self, size: u64) -> Option<Rejection> {
        let limit = self.body_limit?;
        (size > limit).then_some(Rejection::PayloadTooLarge {
            file_size: Some(size),
            max_size: limit,
        })
    }
}

/// A new request id as a header value: its bytes and their count in one
/// allocation, so that the copies the response and the logs take share it
/// (a value made from a vector would allocate again on its first clone).
fn new_id_value() -> HeaderValue {
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(request_id_bytes()))
        .unwrap_or(HeaderValue::from_static("req_"))
}

/// The 413 for a body that grew past `body_limit` as it was read.
pub(crate) fn overflowed(body_limit: Option<u64>) -> Rejection {
    Rejection::PayloadTooLarge {
        file_size: None,
        max_size: body_limit.unwrap_or(u64::MAX),
    }
}

/// The rejection a bodyless error response of the framework's stands for
/// (its routing's 404 and 405 answer with no body): rendered in the API's
/// envelope, the original headers (such as `Allow`) kept.
pub(crate) fn bare_rejection(status: StatusCode, method: &str, path: &str) -> Option<Rejection> {
    match status {
        StatusCode::NOT_FOUND => Some(Rejection::NotFound {
            path: path.to_owned(),
        }),
        StatusCode::METHOD_NOT_ALLOWED => Some(Rejection::MethodNotAllowed {
            method: method.to_owned(),
        }),
        _ => None,
    }
}

/// The rejection an error response rebuff did not render, and that no
/// error of the framework's tells more of, stands for: the router's 404 and
/// 405 when bare (no body, no content type); a 413 or a 5xx when its body
/// is plain text or of no stated type (what frameworks and middlewares
/// answer with), so that no framework's text reaches the client in place
/// of the envelope. Any other response is the application's, and goes out
/// as it is.
pub(crate) fn unrendered(
    response: Unrendered<'_>,
    method: &str,
    path: &str,
    body_limit: Option<u64>,
) -> Option<Rejection> {
    if response.bare {
        if let Some(rejection) = bare_rejection(response.status, method, path) {
            return Some(rejection);
        }
    }
    if !(response.bare || response.plain_text) {
        return None;
    }
    by_status(response.status, response.retry_after, body_limit)
}

/// The rejection an error rebuff did not render stands for by its status
/// alone, when nothing else tells more of it (a framework's plain-text
/// response, an actix-web error of a type rebuff does not know): a 413 the
/// body limit's; a 500, 502, 503 or 504 the 5xx a client retries
/// ([`server_error`]). Any other status goes out as it is: a 501 or a 505,
/// which a client does not retry, would become a 500 it would; a 4xx
/// other than the router's (an auth layer's 401, a 409, a 415, another
/// limiter's 429) would lose what it tells the client, or state what
/// rebuff cannot know (the type a 415 expects).
pub(crate) fn by_status(
    status: StatusCode,
    retry_after: Option<&[u8]>,
    body_limit: Option<u64>,
) -> Option<Rejection> {
    match status.as_u16() {
        413 => Some(overflowed(body_limit)),
        500 | 502..=504 => Some(server_error(status, retry_after)),
        _ => None,
    }
}

/// What [`unrendered`] reads of a response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unrendered<'a> {
    pub(crate) status: StatusCode,
    /// No body and no content type.
    pub(crate) bare: bool,
    /// A `text/plain` body, or one of no stated type.
    pub(crate) plain_text: bool,
    /// Its `Retry-After`.
    pub(crate) retry_after: Option<&'a [u8]>,
}

/// Marks a 413 or 5xx response rebuff rendered (a custom envelope's may be
/// plain text too), so that the axum surface does not take it for a
/// framework's and answer it again ([`unrendered`]). Other statuses are
/// never answered again, and go unmarked: no extension is written on the
/// way of most errors.
#[cfg(feature = "axum")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rendered;

/// See [`Rendered`].
#[cfg(feature = "axum")]
pub(crate) fn mark_rendered<B>(response: &mut http::Response<B>) {
    let status = response.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE || status.is_server_error() {
        response.extensions_mut().insert(Rendered);
    }
}

/// Whether a content type is `text/plain` (any parameters, any case).
pub(crate) fn is_plain_text(content_type: &[u8]) -> bool {
    content_type
        .get(..10)
        .is_some_and(|start| start.eq_ignore_ascii_case(b"text/plain"))
        && matches!(content_type.get(10), None | Some(b';' | b' ' | b'\t'))
}

/// The rejection a 5xx rebuff did not render stands for: a 503 stays "try
/// again later" (after its `Retry-After`, in seconds or as a date; 1 s
/// without one); any other says nothing of itself to the client, as a 500
/// (whose status the envelope states too, in RFC 9457's `status`).
pub(crate) fn server_error(status: StatusCode, retry_after: Option<&[u8]>) -> Rejection {
    if status != StatusCode::SERVICE_UNAVAILABLE {
        return Rejection::Internal;
    }
    let retry_after = retry_after
        .and_then(|value| core::str::from_utf8(value).ok())
        .and_then(|value| {
            let value = value.trim();
            value.parse::<u64>().ok().or_else(|| {
                let at = httpdate::parse_http_date(value).ok()?;
                let wait = at.duration_since(std::time::SystemTime::now()).ok()?;
                Some(crate::envelope::ceil_secs(wait))
            })
        })
        .unwrap_or(1)
        .max(1);
    Rejection::Unavailable { retry_after }
}

/// Why a response rebuff did not render was answered in the envelope, for
/// the log: the status and content type it had (its body is not read).
#[derive(Debug)]
pub(crate) struct Replaced<'a> {
    pub(crate) status: StatusCode,
    pub(crate) content_type: Option<&'a [u8]>,
}

impl fmt::Display for Replaced<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let content_type = self
            .content_type
            .map_or("no content type".into(), String::from_utf8_lossy);
        write!(
            f,
            "a {} response rebuff did not render ({content_type}), answered in the envelope",
            self.status.as_u16()
        )
    }
}

impl std::error::Error for Replaced<'_> {}

/// Whether a header of a response being replaced by its restyled twin is
/// kept: anything that says something of the request (`Allow`,
/// `Set-Cookie`, a rate limit's), not what described the old body (its
/// type, length, encoding, range, language, validators and digests: a
/// compression layer's `Content-Encoding` kept on the uncompressed envelope
/// would make it unreadable). Only names the replacement lacks are copied,
/// each with every value it had.
pub(crate) fn keeps_header(name: &str) -> bool {
    !matches!(
        name,
        "content-type"
            | "content-length"
            | "content-encoding"
            | "content-range"
            | "content-language"
            | "content-location"
            | "content-disposition"
            | "content-digest"
            | "repr-digest"
            | "digest"
            | "content-md5"
            | "etag"
            | "last-modified"
            | "transfer-encoding"
            | "accept-ranges"
    )
}

/// Copies the headers of the response being replaced that say something
/// of the request onto its replacement ([`keeps_header`]), every value of
/// a repeated one (each `Set-Cookie`).
#[cfg(feature = "axum")]
pub(crate) fn keep_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for name in from.keys() {
        if keeps_header(name.as_str()) && !to.contains_key(name) {
            for value in from.get_all(name) {
                to.append(name.clone(), value.clone());
            }
        }
    }
}

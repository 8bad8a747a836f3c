use core::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderValue, Response};

use crate::{ApiError, Rejection};

/// What an envelope knows about the request an error answers: its id, the
/// time, and the `instance` (RFC 9457) it concerns.
///
/// Every part is optional; an envelope leaves out the keys whose value is
/// missing. Building a context may allocate (the id is kept in an
/// [`Arc<str>`] so a context is cheap to clone per response); rendering with
/// one does not.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use rebuff::Context;
///
/// let ctx = Context::new()
///     .request_id("req_abc123")
///     .timestamp(UNIX_EPOCH + Duration::from_secs(1_735_732_800))
///     .instance("/api/v1/agents");
/// assert_eq!(ctx.get_request_id(), Some("req_abc123"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Context {
    request_id: Option<Text>,
    timestamp: Option<Stamp>,
    instance: Option<Instance>,
    problem: bool,
    rejections: Renderer,
    /// The request body limit a server set, for the 413 an extractor
    /// reports.
    body_limit: Option<u64>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("request_id", &self.request_id)
            .field("timestamp", &self.timestamp)
            .field("instance", &self.instance)
            .field("problem", &self.problem)
            .finish_non_exhaustive()
    }
}

/// A request id: a `&str` for the body and a header value for
/// `X-Request-Id`, whichever it was made from (each cheap to clone).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Text {
    /// Any text (a header is made of it when it is a valid header value).
    Owned(Arc<str>),
    /// A valid header value of visible ASCII, as a server reads or makes it.
    #[cfg_attr(not(any(feature = "axum", feature = "actix")), allow(dead_code))]
    Header(HeaderValue),
}

impl Text {
    #[inline]
    fn as_str(&self) -> Option<&str> {
        match self {
            Text::Owned(text) => Some(text),
            // Visible ASCII (the only header values a context is given):
            // UTF-8's check, word by word, is the faster test of it.
            Text::Header(value) => core::str::from_utf8(value.as_bytes()).ok(),
        }
    }
}

/// When the error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    At(SystemTime),
    /// When the error is rendered: a server's context, which most requests
    /// never render, does not read the clock until one does.
    #[cfg_attr(not(any(feature = "axum", feature = "actix")), allow(dead_code))]
    WhenRendered,
}

/// The RFC 9457 `instance`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Instance {
    Owned(Arc<str>),
    /// The request's own path (cheap to clone: it shares the URI's bytes).
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    Path(PathAndQuery),
}

/// A request's path, for a server's context ([`Context::served`]).
#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) struct RequestPath(Instance);

#[cfg(any(feature = "axum", feature = "actix"))]
impl RequestPath {
    /// The path (and query) of a request's URI, sharing its bytes.
    #[cfg(feature = "axum")]
    #[inline]
    pub(crate) const fn shared(path: PathAndQuery) -> Self {
        RequestPath(Instance::Path(path))
    }

    /// A path as text.
    #[inline]
    pub(crate) fn text(path: &str) -> Self {
        RequestPath(Instance::Owned(path.into()))
    }
}

/// How the server's own errors are rendered (and, in a server, logged): in
/// the style of one error type.
#[derive(Clone, Copy)]
struct Renderer(&'static Rendering);

struct Rendering {
    render: fn(&Rejection, &Context) -> Response<Bytes>,
    #[cfg(any(feature = "axum", feature = "actix"))]
    respond: fn(&Rejection, Option<&dyn std::error::Error>, &Context) -> Response<Bytes>,
}

impl Renderer {
    /// In `E`'s style.
    const fn of<E: ApiError>() -> Self {
        Renderer(
            const {
                &Rendering {
                    render: crate::rejection::render::<E>,
                    #[cfg(any(feature = "axum", feature = "actix"))]
                    respond: crate::server::respond_rejection_as::<E>,
                }
            },
        )
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::of::<Rejection>()
    }
}

impl PartialEq for Renderer {
    fn eq(&self, other: &Self) -> bool {
        core::ptr::fn_addr_eq(self.0.render, other.0.render)
    }
}

impl Eq for Renderer {}

/// The latest instant RFC 3339 can write: 9999-12-31T23:59:59.999Z.
const MAX_RFC3339_SECS: u64 = 253_402_300_799;

impl Context {
    /// An empty context: no request id, no timestamp, no instance;
    /// rejections in the default style.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            request_id: None,
            timestamp: None,
            instance: None,
            problem: false,
            rejections: Renderer::of::<Rejection>(),
            body_limit: None,
        }
    }

    /// Asks for RFC 9457 problem details whatever the error type's own
    /// envelope (set by the server layer when content negotiation is on and
    /// the client sent `Accept: application/problem+json`).
    #[must_use]
    #[inline]
    pub const fn prefer_problem(mut self, problem: bool) -> Self {
        self.problem = problem;
        self
    }

    /// Renders the server's own errors ([`Rejection`]s: bad JSON, an
    /// unknown route, a panic) as `E`'s errors are rendered: `E`'s
    /// envelope and style, or `E`'s own variant where one answers the
    /// rejection. The server layer sets it to its error type.
    #[must_use]
    #[inline]
    pub fn rejections_as<E: ApiError>(mut self) -> Self {
        self.rejections = Renderer::of::<E>();
        self
    }

    /// Whether problem details were asked for.
    #[must_use]
    pub const fn prefers_problem(&self) -> bool {
        self.problem
    }

    /// The body limit of the request, if a server set one.
    #[must_use]
    #[cfg(any(feature = "axum", feature = "actix"))]
    pub(crate) const fn get_body_limit(&self) -> Option<u64> {
        self.body_limit
    }

    /// `rejection` as the complete response this context's error type
    /// gives it (see [`Context::rejections_as`]).
    #[must_use]
    pub fn render_rejection(&self, rejection: &Rejection) -> Response<Bytes> {
        (self.rejections.0.render)(rejection, self)
    }

    /// [`render_rejection`](Self::render_rejection), logged first as
    /// what it is rendered as (with `chain` as its cause).
    #[cfg(any(feature = "axum", feature = "actix"))]
    pub(crate) fn respond_rejection(
        &self,
        rejection: &Rejection,
        chain: Option<&dyn std::error::Error>,
    ) -> Response<Bytes> {
        (self.rejections.0.respond)(rejection, chain, self)
    }

    /// Sets the request id clients quote to support (`request_id`,
    /// `requestId` and the `X-Request-Id` header).
    #[must_use]
    pub fn request_id(mut self, id: impl Into<Arc<str>>) -> Self {
        self.request_id = Some(Text::Owned(id.into()));
        self
    }

    /// A server's context of one request, built in one piece: its id (a
    /// header value of visible ASCII the server accepted or made, shared
    /// with the `X-Request-Id` it echoes), its path, the format its client
    /// prefers, its body limit (what its 413s report), rejections rendered
    /// as `E`'s errors, and the time taken when an error is rendered. (A
    /// chain of builders moves the whole context at each step, on the path
    /// of every request.)
    #[must_use]
    #[cfg(any(feature = "axum", feature = "actix"))]
    #[inline]
    pub(crate) fn served<E: ApiError>(
        id: HeaderValue,
        path: RequestPath,
        problem: bool,
        body_limit: Option<u64>,
    ) -> Self {
        // `Text::as_str` reads it as UTF-8: only safe ids come here.
        debug_assert!(crate::server::is_safe_request_id(id.as_bytes()));
        Context {
            request_id: Some(Text::Header(id)),
            timestamp: Some(Stamp::WhenRendered),
            instance: Some(path.0),
            problem,
            rejections: Renderer::of::<E>(),
            body_limit,
        }
    }

    /// The `X-Request-Id` header value of the request id, if it makes one.
    #[must_use]
    #[inline]
    pub(crate) fn request_id_value(&self) -> Option<HeaderValue> {
        match self.request_id.as_ref()? {
            Text::Header(value) => Some(value.clone()),
            Text::Owned(text) => HeaderValue::from_str(text).ok(),
        }
    }

    /// Sets when the error happened. Times before 1970 or after the year
    /// 9999, which RFC 3339 cannot write, are clamped to those bounds.
    #[must_use]
    pub fn timestamp(mut self, at: SystemTime) -> Self {
        self.timestamp = Some(Stamp::At(clamp_rfc3339(at)));
        self
    }

    /// Sets the timestamp to now.
    #[must_use]
    pub fn now(self) -> Self {
        self.timestamp(SystemTime::now())
    }

    /// Sets the RFC 9457 `instance`: a URI reference of this occurrence,
    /// usually the request path.
    #[must_use]
    pub fn instance(mut self, instance: impl Into<Arc<str>>) -> Self {
        self.instance = Some(Instance::Owned(instance.into()));
        self
    }

    /// The request id, if set.
    #[must_use]
    #[inline]
    pub fn get_request_id(&self) -> Option<&str> {
        self.request_id.as_ref()?.as_str()
    }

    /// The timestamp, if set.
    #[must_use]
    pub fn get_timestamp(&self) -> Option<SystemTime> {
        match self.timestamp? {
            Stamp::At(at) => Some(at),
            Stamp::WhenRendered => Some(clamp_rfc3339(SystemTime::now())),
        }
    }

    /// The path of the request as the axum surface saw it (before any
    /// `Router::nest` stripped its prefix), if the context is a surface's.
    #[cfg(feature = "axum")]
    pub(crate) fn surface_path(&self) -> Option<&str> {
        match self.instance.as_ref()? {
            Instance::Path(path) => Some(path.path()),
            Instance::Owned(_) => None,
        }
    }

    /// The instance, if set.
    #[must_use]
    #[inline]
    pub fn get_instance(&self) -> Option<&str> {
        match self.instance.as_ref()? {
            Instance::Owned(text) => Some(text),
            Instance::Path(path) => Some(path.path()),
        }
    }
}

fn clamp_rfc3339(at: SystemTime) -> SystemTime {
    match at.duration_since(UNIX_EPOCH) {
        Err(_) => UNIX_EPOCH,
        Ok(since) if since.as_secs() > MAX_RFC3339_SECS => {
            UNIX_EPOCH + Duration::new(MAX_RFC3339_SECS, 999_999_999)
        }
        Ok(_) => at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_outside_rfc3339_are_clamped() {
        let before = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(
            Context::new().timestamp(before).get_timestamp(),
            Some(UNIX_EPOCH)
        );
        let after = UNIX_EPOCH + Duration::from_secs(MAX_RFC3339_SECS + 100);
        let clamped = Context::new().timestamp(after).get_timestamp().unwrap();
        assert_eq!(
            humantime::format_rfc3339_millis(clamped).to_string(),
            "9999-12-31T23:59:59.999Z"
        );
    }
}

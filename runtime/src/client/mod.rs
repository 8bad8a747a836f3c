//! The client side: any error response as a typed error.
//!
//! [`RemoteError::parse`] reads what a server (or the proxy in front of it)
//! answered; [`ClientError`] is the one error type a client call returns,
//! saying what happened (the API's error, typed or not, a rate limit, a
//! timeout, a network failure, an unreadable success body) and whether and
//! when to retry. A derived [`ApiError`](trait@crate::ApiError) with
//! `#[api(decode)]` rebuilds its own variant from a [`RemoteError`]
//! ([`FromRemote`]), so one enum serves the server and its clients.
//!
//! ```
//! use rebuff::client::{ClientError, FromRemote, RemoteError};
//! use rebuff::http::{HeaderMap, StatusCode};
//!
//! #[derive(Debug, PartialEq, thiserror::Error, rebuff::ApiError)]
//! #[api(decode)]
//! enum LeadError {
//!     #[error("lead {lead_id} not found")]
//!     #[api(status = 404, message = "Lead not found")]
//!     LeadNotFound { lead_id: String },
//! }
//!
//! // What a rebuff server (or any server of this shape) answered:
//! let body = br#"{"error":{"code":"lead_not_found","message":"Lead not found","details":{"lead_id":"lead_9"}}}"#;
//! let remote = RemoteError::parse(StatusCode::NOT_FOUND, &HeaderMap::new(), body);
//! assert_eq!(LeadError::from_remote(&remote), Some(LeadError::LeadNotFound { lead_id: "lead_9".into() }));
//!
//! let err: ClientError<LeadError> = ClientError::from_remote(remote);
//! assert!(matches!(err.api(), Some(LeadError::LeadNotFound { .. })));
//! ```
//!
//! # How an error body is read
//!
//! [`RemoteError::parse`] reads the shape of a body, not the name of its
//! sender. It finds the object that describes the error (a nested `error`
//! object, or one under `Error`, `fault`, `Fault` or `odata.error`; else
//! the first entry of an `errors` list; else the body's top level; a body
//! that is a list is read by its first entry) and takes each
//! part from the first member that has it, in this order:
//!
//! | part | first match wins |
//! |---|---|
//! | code | a name-like `code` / `Code`, `error_code` / `errorCode` / `serviceErrorCode` / `ErrorCode` / `errorcode`; in an error object a name-like `status` (`"RESOURCE_EXHAUSTED"`); a name-like `reason`, `category`, `id`; the `issue` of the first `details` entry; a name-like `name`; in an error object a name-like `type`, then the code its `message` starts with (an upper-case token with an underscore, alone or before a colon, as Firebase writes `EMAIL_EXISTS` and `WEAK_PASSWORD : Password should be at least 6 characters`); the `reason` or `code` of the first `errors` entry; the first of `error_codes`; the `errorcode` of a `detail` object (Apigee's); then a numeric `code` or `error_code`; then a code header (`x-amzn-errortype`, `x-ms-error-code`); then the `error` of a `WWW-Authenticate: Bearer` challenge (RFC 6750: `invalid_token`). A GraphQL error's code is its `extensions.code`, else its name-like `type` (GitHub's) |
//! | code, top-level `error` string | the code when it is a number or a name (`"invalid_grant"`, `"RecordInvalid"`), unless it only repeats the status's reason phrase (`"Unauthorized"` on a 401): then it is the message, and the code comes from the row above |
//! | code, problem documents | `code`, else `type` unless it is `about:blank` or a link to the HTTP specification's section for the status. A problem document is one sent as `application/problem+json`, or one with `type` or `title` and `detail` or `status`, but not one with a `message` of its own and neither `title` nor `detail` (`{"type":"error","status":404,"message":"Not Found"}` is read as the other bodies are) |
//! | message | `message` (a string, a list of strings, a localised `{"lang": ..., "value": ...}` as Microsoft's and SAP's services send it, without the `RequestId:` and `Time:` lines Azure Storage ends it with, or an object keyed by field); the text under another name (`error_description`, `description`, `errorSummary`, `error_summary`, `msg`, `err`, `error_message`, `errorMessage`, `ErrorMessage`, `faultstring`); `detail` when it is a string; `title`; `reason` when it is prose; the first of `errorMessages`; in an error object with none of these, its first `errors` entry's, then the top level's; a top-level `error` that is prose; an `errors` that is one string; the first field of an `errors` object, of `JSend`'s `data` on a `"status": "fail"`, or of a body that is nothing but fields and their messages, every member a string or a list of strings (`email: This field is required.`, `email can't be blank`; a body with any other member, such as a number or an object, is of another shape, and its strings are no message); then the `error_description` of a `WWW-Authenticate: Bearer` challenge. A message that starts with the code and a colon reads without them (`Password should be at least 6 characters`) |
//! | request id | the error object's member, then its `innerError`'s, then the top level's: `request_id`, `requestId`, `request-id`, `requestID`, `debug_id`, `trace_id`, `traceId`, `correlation_id`, `correlationId`, `errorId`, `fbtrace_id`, `pspReference`, `ErrorIdentifier`, `RequestId`; then a header: `X-Request-Id`, `Request-Id`, AWS's, GitHub's, Twilio's, Microsoft's, PayPal's, Checkout.com's, Slack's, Google Cloud Storage's `X-GUploader-UploadID`, `X-Correlation-Id`, `X-Trace-Id`, Azure API Management's `apim-request-id`, the `X-Amz-Cf-Id` of Amazon's CDN, Vercel's `x-vercel-id`, `CF-Ray`, then any header whose name ends in `-request-id` (`X-Dropbox-Request-Id`) |
//! | retry hint | `Retry-After` (seconds, or an HTTP-date read against the response's `Date`, so a client whose clock is off still waits what the server meant), else `retry-after-ms` / `x-ms-retry-after-ms` (milliseconds, as OpenAI, Azure OpenAI and Cosmos DB send it); the error object's `retry_after` / `retryAfter` / `retryDelay` / `estimated_time` (Hugging Face's seconds until a model is loaded), then a `retry_after` in its `details` or a gRPC `RetryInfo` entry of them (`"retryDelay": "30s"`); the top level's, then its `parameters.retry_after`, then its `details`; then, when the response refuses a spent limit (a 429, or a 403 with none remaining, as GitHub answers), the IETF `RateLimit` field's `t=` of the exhausted limit (`RateLimit: "default";r=0;t=17`), `X-RateLimit-Reset-After`, then the reset time of `X-RateLimit-Reset` / `X-Rate-Limit-Reset` / `RateLimit-Reset` (epoch seconds or milliseconds, or seconds from now). Any other error that used up the quota was refused for its own reason: its reset is no hint, and does not make it retryable |
//!
//! A *name-like* value has no whitespace, is not a number and not a link;
//! *prose* has whitespace. A JSON document cut short (by the limit on
//! what the client integrations read of an error body, or a dropped
//! connection) is read as far as its last whole member: its code and
//! message usually come before the long part. At the top level `type` is an object's kind
//! (`"error.list"`) and `status` the outcome (`"error"`, `"Failure"`), so
//! neither is a code there. XML documents give `Code`, `Message` (its
//! trailing `Key:value` lines are data, not text) and `RequestId` /
//! `RequestID`, wherever they are nested; HTML pages (XHTML's too, for all
//! its XML declaration) their title (unless it only says "Error"), first
//! heading or `<pre>`; text its first line.
//!
//! Every retry hint is a floor the retry engine honours up to the policy's
//! [`max_retry_after`](crate::Policy::max_retry_after), so no server can
//! park a client.

mod idempotent;
mod remote;

/// How long the client integrations (reqwest's `check` and `api`, async
/// and blocking, the reqwest-middleware and tower retry layers) read an
/// error body for, at most: what arrived by then is the error's body, so
/// that a server trickling an endless 404 page does not hold the call
/// (neither reqwest nor a tower stack sets a time limit of its own on a
/// whole body unless told to). The async ones' limit is a tokio timer: the
/// runtime needs its time driver, as the retry engine's sleeps do. The
/// blocking ones check the time between reads.
#[cfg(any(feature = "reqwest", feature = "tower-client"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "reqwest", feature = "tower-client"))))]
pub const ERROR_BODY_TIME: core::time::Duration = core::time::Duration::from_secs(10);

/// How much of an error body is read by default: enough for any real error
/// document, little enough that a hostile server cannot exhaust memory.
/// The same for every client entry point.
#[cfg(any(feature = "reqwest", feature = "tower-client"))]
pub(crate) const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// At most `limit` bytes of an error response's body, read for at most
/// [`ERROR_BODY_TIME`], for every client entry point. A body cut short
/// still says what it can: the status and headers are in.
#[cfg(any(feature = "reqwest", feature = "tower-client"))]
pub(crate) async fn read_error_body<B: http_body::Body>(body: B, limit: usize) -> Vec<u8> {
    use bytes::Buf as _;
    use http_body_util::BodyExt as _;
    let mut body = core::pin::pin!(body);
    let mut bytes = Vec::new();
    let until = tokio::time::Instant::now() + ERROR_BODY_TIME;
    while bytes.len() < limit {
        let Ok(frame) = tokio::time::timeout_at(until, body.frame()).await else {
            break;
        };
        match frame {
            Some(Ok(frame)) => {
                if let Ok(mut data) = frame.into_data() {
                    while data.has_remaining() && bytes.len() < limit {
                        let chunk = data.chunk();
                        let take = chunk.len().min(limit - bytes.len());
                        bytes.extend_from_slice(&chunk[..take]);
                        data.advance(take);
                    }
                }
            }
            Some(Err(_)) | None => break,
        }
    }
    bytes
}

/// The breaker a client layer goes through: one for every request, or one
/// per host (and port) of the request's URL.
#[cfg(any(feature = "reqwest-middleware", feature = "tower-client"))]
#[derive(Debug, Clone, Copy)]
pub(crate) enum Guard {
    One(&'static crate::Breaker),
    PerHost(&'static crate::breaker::Breakers),
}

#[cfg(any(feature = "reqwest-middleware", feature = "tower-client"))]
impl Guard {
    /// The breaker of a request to `host` on `port` (its URL's, or its
    /// scheme's), which are asked for only when there is one per host: the
    /// key is `host:port`, the host in lower case (`api.example.com:443`).
    pub(crate) fn of<'h>(
        self,
        host_and_port: impl FnOnce() -> (&'h str, Option<u16>),
    ) -> &'static crate::Breaker {
        match self {
            Guard::One(breaker) => breaker,
            Guard::PerHost(breakers) => {
                let (host, port) = host_and_port();
                // Hosts are lower case already, as URLs are parsed: copied
                // only when one is not.
                let host: std::borrow::Cow<'_, str> =
                    if host.bytes().any(|b| b.is_ascii_uppercase()) {
                        host.to_ascii_lowercase().into()
                    } else {
                        host.into()
                    };
                match port {
                    Some(port) => breakers.get(&format!("{host}:{port}")),
                    None => breakers.get(&host),
                }
            }
        }
    }
}

/// Whether a response is an error response, for every client entry point:
/// anything but 1xx, 2xx and 3xx (a status past 599 is no success).
#[cfg(any(feature = "reqwest", feature = "tower-client"))]
pub(crate) fn is_error_status(status: StatusCode) -> bool {
    !(status.is_informational() || status.is_success() || status.is_redirection())
}

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub mod reqwest;

#[cfg(feature = "reqwest-middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
pub mod middleware;

#[cfg(feature = "tower-client")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower-client")))]
pub mod tower;

use core::fmt;
use core::time::Duration;
use std::error::Error as StdError;

use http::StatusCode;

#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) use idempotent::idempotent_method;
pub use idempotent::{IDEMPOTENCY_KEY, is_idempotent};
pub use remote::{Format, RemoteError};

use crate::retry::TimedOut;
use crate::{Advice, ApiError, RateLimit, Retryable};

/// Rebuilding a typed error from what a server answered.
///
/// Derived by `#[derive(ApiError)]` with `#[api(decode)]`: the variant is
/// chosen by code and its fields read from the details (and from
/// `Retry-After` and the rate-limit headers for `retry_after` and
/// `rate_limit` fields). `None` when no variant has the code and no variant
/// is marked `#[api(other)]`. A variant holding the error's cause
/// (`#[source]`, `#[from]`) is never rebuilt, as its cause stays on the
/// server: its code counts as an unknown one. See the derive's
/// [decoding rules](macro@crate::ApiError#decoding-decode-other).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be decoded from an error response",
    label = "not decodable",
    note = "derive it with `#[derive(ApiError)]` and `#[api(decode)]` on the type, \
            or decode into `rebuff::client::RemoteError`"
)]
pub trait FromRemote: Sized {
    /// The typed error `remote` stands for, if this type has one.
    fn from_remote(remote: &RemoteError) -> Option<Self>;
}

impl FromRemote for RemoteError {
    fn from_remote(remote: &RemoteError) -> Option<Self> {
        Some(remote.clone())
    }
}

/// A boxed error decodes as the error it holds (a `transparent` variant
/// may box it).
impl<T: FromRemote> FromRemote for Box<T> {
    fn from_remote(remote: &RemoteError) -> Option<Self> {
        T::from_remote(remote).map(Box::new)
    }
}

/// What failed below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NetworkKind {
    /// The connection could not be made (refused, DNS, unreachable, or
    /// not made within a connect timeout): the request never left.
    Connect,
    /// The connection broke mid-request or mid-response.
    Reset,
    /// Any other transport failure.
    Other,
}

impl fmt::Display for NetworkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkKind::Connect => "connect",
            NetworkKind::Reset => "connection reset",
            NetworkKind::Other => "transport",
        })
    }
}

/// Everything a client call can fail with.
///
/// `E` is the API's own error type, decoded from the response when it can
/// be ([`FromRemote`]); by default [`RemoteError`], which reads any API.
///
/// It implements [`Retryable`] (network failures and timeouts retry; API
/// errors by their status and the server's hints) and its `Display` carries
/// the server's request id, so a logged error can be traced by the API's
/// support.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError<E = RemoteError> {
    /// The API answered with an error `E` understands.
    Api {
        /// The typed error.
        error: E,
        /// The response it came from: status, request id, hints, raw body.
        remote: RemoteError,
    },
    /// The API (or a proxy in front of it) answered 429 with an error `E`
    /// does not model.
    RateLimited(RemoteError),
    /// An error response `E` could not decode: an unknown code, an HTML page
    /// from a proxy, an empty body.
    Unrecognized(RemoteError),
    /// The call, or one attempt of it, took too long.
    Timeout {
        /// The limit that was reached, if known.
        after: Option<Duration>,
    },
    /// The request never got an answer.
    Network {
        /// What failed.
        kind: NetworkKind,
        /// The transport's error.
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The request could not be built or sent as given (a bad URL, a body
    /// that failed to serialize): retrying cannot help.
    Request(Box<dyn StdError + Send + Sync>),
    /// A [`Breaker`](crate::Breaker) refused the call: the service has been
    /// failing.
    CircuitOpen(crate::CircuitOpen),
    /// A success response whose body could not be decoded.
    Decode {
        /// The response's status.
        status: StatusCode,
        /// Why decoding failed.
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl<E: FromRemote> ClientError<E> {
    /// The error for an error response: `E`'s own if it decodes, else
    /// [`ClientError::RateLimited`] for a 429 and
    /// [`ClientError::Unrecognized`] for the rest.
    #[must_use]
    pub fn from_remote(remote: RemoteError) -> Self {
        match E::from_remote(&remote) {
            Some(error) => ClientError::Api { error, remote },
            None if remote.status() == StatusCode::TOO_MANY_REQUESTS => {
                ClientError::RateLimited(remote)
            }
            None => ClientError::Unrecognized(remote),
        }
    }
}

impl ClientError<RemoteError> {
    /// This error with the API's own error type: an error response decoded
    /// into `E` where it can be ([`ClientError::from_remote`]), every other
    /// failure as it is. The retrying middlewares report in
    /// `ClientError<RemoteError>`, which reads any API; this types it.
    ///
    /// ```
    /// use rebuff::client::{ClientError, RemoteError};
    /// use rebuff::http::StatusCode;
    ///
    /// #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    /// #[api(decode)]
    /// enum LeadError {
    ///     #[error("lead not found")]
    ///     #[api(status = 404)]
    ///     LeadNotFound,
    /// }
    ///
    /// let remote = RemoteError::new(StatusCode::NOT_FOUND, Some("lead_not_found"), None);
    /// let err: ClientError = ClientError::from_remote(remote);
    /// assert!(matches!(err.decode::<LeadError>().api(), Some(LeadError::LeadNotFound)));
    /// ```
    #[must_use]
    pub fn decode<E: FromRemote>(self) -> ClientError<E> {
        match self {
            ClientError::Api { remote, .. }
            | ClientError::RateLimited(remote)
            | ClientError::Unrecognized(remote) => ClientError::from_remote(remote),
            ClientError::Timeout { after } => ClientError::Timeout { after },
            ClientError::Network { kind, source } => ClientError::Network { kind, source },
            ClientError::Request(source) => ClientError::Request(source),
            ClientError::CircuitOpen(open) => ClientError::CircuitOpen(open),
            ClientError::Decode { status, source } => ClientError::Decode { status, source },
        }
    }
}

/// A success body as `T`: JSON, or (204, 205, an empty body) JSON `null`,
/// which `()` and `Option<T>` accept.
#[cfg(feature = "reqwest")]
pub(crate) fn decode_success<T>(status: StatusCode, body: &[u8]) -> Result<T, serde_json::Error>
where
    T: serde::de::DeserializeOwned,
{
    let empty = status == StatusCode::NO_CONTENT
        || status == StatusCode::RESET_CONTENT
        || body.trim_ascii().is_empty();
    serde_json::from_slice(if empty { b"null" } else { body })
}

impl<E> ClientError<E> {
    /// The typed API error, if the response decoded into one.
    #[must_use]
    pub fn api(&self) -> Option<&E> {
        match self {
            ClientError::Api { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The error response, if there was one.
    #[must_use]
    pub fn remote(&self) -> Option<&RemoteError> {
        match self {
            ClientError::Api { remote, .. }
            | ClientError::RateLimited(remote)
            | ClientError::Unrecognized(remote) => Some(remote),
            _ => None,
        }
    }

    /// The response's status, if there was a response.
    #[must_use]
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Decode { status, .. } => Some(*status),
            other => other.remote().map(RemoteError::status),
        }
    }

    /// The server's request id, if the response had one.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.remote().and_then(RemoteError::request_id)
    }

    /// How long the server asked to wait, if it did.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.remote().and_then(RemoteError::retry_after)
    }

    /// The rate-limit state the response reported.
    #[must_use]
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.remote().and_then(RemoteError::rate_limit)
    }

    /// Whether the call timed out.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, ClientError::Timeout { .. })
    }
}

impl<E> From<crate::CircuitOpen> for ClientError<E> {
    fn from(open: crate::CircuitOpen) -> Self {
        ClientError::CircuitOpen(open)
    }
}

impl<E> fmt::Display for ClientError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Api { remote, .. } => write!(f, "API error {remote}"),
            ClientError::RateLimited(remote) => {
                write!(f, "rate limited: {remote}")?;
                if let Some(delay) = remote.retry_after() {
                    write!(f, "; retry after {}", humantime::format_duration(delay))?;
                }
                Ok(())
            }
            ClientError::Unrecognized(remote) => write!(f, "error response {remote}"),
            ClientError::Timeout { after: Some(limit) } => {
                write!(f, "timed out after {}", crate::retry::readable(*limit))
            }
            ClientError::Timeout { after: None } => f.write_str("timed out"),
            ClientError::Network { kind, source } => write!(f, "network error ({kind}): {source}"),
            ClientError::Request(source) => write!(f, "invalid request: {source}"),
            ClientError::CircuitOpen(open) => write!(f, "{open}"),
            ClientError::Decode { status, source } => write!(
                f,
                "could not decode the {} response body: {source}",
                status.as_u16()
            ),
        }
    }
}

impl<E: fmt::Debug> StdError for ClientError<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ClientError::Api { remote, .. }
            | ClientError::RateLimited(remote)
            | ClientError::Unrecognized(remote) => Some(remote),
            ClientError::Network { source, .. }
            | ClientError::Request(source)
            | ClientError::Decode { source, .. } => Some(&**source),
            ClientError::CircuitOpen(open) => Some(open),
            ClientError::Timeout { .. } => None,
        }
    }
}

impl<E: Retryable> Retryable for ClientError<E> {
    fn retry_advice(&self) -> Advice {
        match self {
            // The variant speaks for the response under the status it is
            // sent with. One standing for others too (a unit `other`
            // variant, a code sent under another status) leaves the call
            // to the response: a 404 proxy page decoded as a 502 variant
            // is not retried, a 503 decoded as a 400 one is.
            ClientError::Api { error, remote }
                if error
                    .retry_status()
                    .is_some_and(|status| status != remote.status()) =>
            {
                remote.retry_advice()
            }
            ClientError::Api { error, remote } => {
                match (error.retry_advice(), remote.retry_after()) {
                    (Advice::Stop, _) => Advice::Stop,
                    (Advice::RetryAfter(ours), Some(theirs)) => {
                        Advice::RetryAfter(ours.max(theirs))
                    }
                    (Advice::Retry, Some(theirs)) => Advice::RetryAfter(theirs),
                    (advice, None) => advice,
                }
            }
            ClientError::RateLimited(remote) | ClientError::Unrecognized(remote) => {
                remote.retry_advice()
            }
            ClientError::Timeout { .. } | ClientError::Network { .. } => Advice::Retry,
            ClientError::CircuitOpen(open) => open.retry_advice(),
            ClientError::Request(_) | ClientError::Decode { .. } => Advice::Stop,
        }
    }

    fn retry_status(&self) -> Option<StatusCode> {
        self.status()
    }

    fn request_id(&self) -> Option<&str> {
        ClientError::request_id(self)
    }

    /// Not for a request that could not be built (or that a middleware
    /// refused) nor one a breaker refused: neither reached the server.
    fn reached_service(&self) -> bool {
        !matches!(self, ClientError::Request(_) | ClientError::CircuitOpen(_))
    }

    fn timeout_error() -> Option<fn(TimedOut) -> Self> {
        Some(|timeout| ClientError::Timeout {
            after: Some(timeout.limit),
        })
    }
}

impl<E: Retryable> crate::CanTimeOut for ClientError<E> {}

/// A remote error is an [`ApiError`] too, so a gateway can pass an upstream
/// failure on in its own envelope: status, code (`"error"` if the upstream
/// gave none), message, details, `Retry-After` and rate limits. The upstream's
/// request id is not forwarded as the error's own.
impl ApiError for RemoteError {
    type Envelope = crate::envelope::Nested;

    fn status(&self) -> StatusCode {
        RemoteError::status(self)
    }

    fn code(&self) -> &str {
        RemoteError::code(self).unwrap_or("error")
    }

    fn fmt_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }

    fn message_str(&self) -> Option<&str> {
        Some(self.message())
    }

    fn has_details(&self) -> bool {
        self.details()
            .is_some_and(|d| d.as_object().is_some_and(|o| !o.is_empty()))
    }

    fn serialize_details<M: serde::ser::SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        if let Some(serde_json::Value::Object(details)) = self.details() {
            for (key, value) in details {
                map.serialize_entry(key, value)?;
            }
        }
        Ok(())
    }

    fn retry_after(&self) -> Option<Duration> {
        RemoteError::retry_after(self)
    }

    /// A retryable status; or a 5xx, 403, 409 or 425 that says when to
    /// retry (an outage's end, a quota or a secondary rate limit, a
    /// conflict that clears, a request sent too early). Any other 4xx
    /// stops, whatever hint it carries: a `retry_after` a 422 echoes back
    /// from the request is no advice.
    fn retryable(&self) -> bool {
        let status = self.status();
        crate::retryable_status(status)
            || ((status.is_server_error() || matches!(status.as_u16(), 403 | 409 | 425))
                && self.retry_after().is_some())
    }

    fn rate_limit(&self) -> Option<RateLimit> {
        RemoteError::rate_limit(self)
    }

    fn request_id(&self) -> Option<&str> {
        RemoteError::request_id(self)
    }
}

#[cfg(all(test, any(feature = "reqwest-middleware", feature = "tower-client")))]
mod guard_tests {
    use super::Guard;
    use crate::Breaker;
    use crate::breaker::Breakers;

    static HOSTS: Breakers = Breakers::new(Breaker::new());

    #[test]
    fn a_host_has_one_breaker_whatever_its_case() {
        let guard = Guard::PerHost(&HOSTS);
        let lower = guard.of(|| ("api.example.com", Some(443)));
        assert!(core::ptr::eq(
            lower,
            guard.of(|| ("API.Example.com", Some(443)))
        ));
        assert!(!core::ptr::eq(
            lower,
            guard.of(|| ("api.example.com", Some(80)))
        ));
        assert!(
            core::ptr::eq(lower, HOSTS.get("api.example.com:443")),
            "the documented key"
        );
    }
}

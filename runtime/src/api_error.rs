use core::fmt;
use std::time::Duration;

use http::StatusCode;
use serde::ser::SerializeMap;

use crate::RateLimit;
use crate::catalog::Entry;
use crate::envelope::Envelope;

/// An error that knows how to present itself to an HTTP client.
///
/// Each value answers the questions every error envelope asks: which HTTP
/// status, which machine-readable code, which public message, which
/// `details`, and whether (and when) the client should try again. Envelopes
/// ([`crate::envelope`]) turn the answers into bytes; nothing here allocates.
///
/// Usually derived with [`macro@crate::ApiError`]. Implementing it by hand
/// takes three required methods; the rest have defaults that describe an
/// error without details, retry hints or rate limits:
///
/// ```
/// use std::fmt;
/// use rebuff::{ApiError, Context, envelope::Nested};
/// use rebuff::StatusCode;
///
/// /// A quota that ran out.
/// struct QuotaExceeded { remaining_credits: u32 }
///
/// impl ApiError for QuotaExceeded {
///     type Envelope = Nested;
///
///     fn status(&self) -> StatusCode { StatusCode::PAYMENT_REQUIRED }
///     fn code(&self) -> &str { "quota_exceeded" }
///     fn fmt_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         f.write_str("Insufficient credits")
///     }
///     fn has_details(&self) -> bool { true }
///     fn serialize_details<M: serde::ser::SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
///         map.serialize_entry("remaining_credits", &self.remaining_credits)
///     }
/// }
///
/// let body = rebuff::to_vec(&QuotaExceeded { remaining_credits: 0 }, &Context::new());
/// assert_eq!(
///     body,
///     br#"{"error":{"code":"quota_exceeded","message":"Insufficient credits","details":{"remaining_credits":0}}}"#,
/// );
/// ```
pub trait ApiError {
    /// The envelope [`crate::to_vec`] and [`crate::to_response`] render this
    /// type in. Any other envelope can still be used explicitly, e.g.
    /// [`crate::envelope::Problem::to_vec`].
    type Envelope: Envelope;

    /// Every error this type can be, for documentation and client
    /// generation (see [`crate::catalog`]). Empty by default.
    const CATALOG: &'static [Entry] = &[];

    /// How the type spells its codes and `details` keys, and the base URI
    /// of its RFC 9457 `type` member (the code is appended to it; without
    /// one, `"about:blank"`). The derive sets it from `code_case`,
    /// `rename_all` and `type_base`; a server renders its own rejections
    /// ([`crate::Rejection`]) in the same style.
    const STYLE: crate::Style = crate::Style::DEFAULT;

    /// The HTTP status, always a 4xx or 5xx.
    fn status(&self) -> StatusCode;

    /// The machine-readable code, such as `"rate_limit_exceeded"`.
    fn code(&self) -> &str;

    /// Writes the public message: what the client may read. Never the
    /// internal cause of a 5xx.
    fn fmt_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;

    /// The public message when it is a fixed string, so envelopes can write
    /// it without going through [`fmt`]. Must agree with
    /// [`ApiError::fmt_message`]; `None` (the default) is always correct.
    fn message_str(&self) -> Option<&str> {
        None
    }

    /// The RFC 9457 `type` URI of this error, when it is known in full.
    /// `None` (the default) makes [`crate::envelope::Problem`] build it from
    /// the [style](ApiError::STYLE)'s `type_base` and the code; the derive returns the URI it
    /// assembled at compile time.
    fn type_uri(&self) -> Option<&str> {
        None
    }

    /// Whether [`ApiError::serialize_details`] writes at least one entry.
    /// Envelopes leave out the `details` key when it is `false`.
    fn has_details(&self) -> bool {
        false
    }

    /// Writes the `details` entries into an open map, without building an
    /// intermediate value.
    fn serialize_details<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        let _ = map;
        Ok(())
    }

    /// How long the client should wait before it tries again, if the error
    /// says (the `Retry-After` header).
    fn retry_after(&self) -> Option<Duration> {
        None
    }

    /// Whether trying the same request again may succeed. Defaults to
    /// [`retryable_status`] of [`ApiError::status`].
    fn retryable(&self) -> bool {
        retryable_status(self.status())
    }

    /// The rate-limit state to report in `X-RateLimit-*` headers.
    fn rate_limit(&self) -> Option<RateLimit> {
        None
    }

    /// A request id the error carries itself, such as an upstream's (the
    /// request being answered has its own, in the [`crate::Context`]).
    fn request_id(&self) -> Option<&str> {
        None
    }

    /// Whether the error carries a list of messages (the `errors` field
    /// attribute). [`crate::envelope::Plain`] renders it as
    /// `{"errors":[...]}`.
    fn has_errors(&self) -> bool {
        false
    }

    /// Serializes the list of messages announced by [`ApiError::has_errors`].
    fn serialize_errors<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde::Serializer::collect_seq(serializer, core::iter::empty::<&str>())
    }

    /// How the retry engine makes this error from an attempt it cut off
    /// ([`Policy::attempt_timeout`](crate::Policy::attempt_timeout), or the
    /// deadline): the variant marked `#[api(timeout)]`. `None` (the
    /// default) for a type that has none: its attempts then run to
    /// completion, whatever the policy's timeout or deadline. A type of
    /// your own that returns `Some` here implements
    /// [`CanTimeOut`](crate::CanTimeOut) too, which
    /// `#[retry(attempt_timeout = ...)]` asks of it.
    #[must_use]
    fn from_timeout() -> Option<fn(crate::retry::TimedOut) -> Self>
    where
        Self: Sized,
    {
        None
    }

    /// This type's own answer to one of the server's [`crate::Rejection`]s,
    /// if one of its variants takes that rejection over
    /// (`#[api(rejection = NotFound)]`): the server then answers, say, an
    /// unknown route with the API's own "not found" error instead of
    /// rebuff's. `None` (the default) leaves every rejection to rebuff,
    /// rendered in this type's [style](ApiError::STYLE).
    #[must_use]
    fn from_rejection(rejection: &crate::Rejection) -> Option<Self>
    where
        Self: Sized,
    {
        let _ = rejection;
        None
    }

    /// The public message as a [`fmt::Display`] value: format it, compare
    /// it or `to_string()` it.
    ///
    /// ```
    /// # #[derive(Debug, rebuff::ApiError)]
    /// # #[api(status = 404, message = "Lead not found")]
    /// # struct LeadNotFound;
    /// use rebuff::ApiError;
    /// assert_eq!(LeadNotFound.message().to_string(), "Lead not found");
    /// ```
    fn message(&self) -> Message<'_, Self> {
        Message(self)
    }
}

/// The public message of an [`ApiError`], as returned by
/// [`ApiError::message`]: `Display` writes it, `Serialize` writes it as a
/// JSON string, neither through an intermediate `String`.
pub struct Message<'a, E: ?Sized>(pub &'a E);

impl<E: ApiError + ?Sized> fmt::Display for Message<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_message(f)
    }
}

impl<E: ApiError + ?Sized> serde::Serialize for Message<'_, E> {
    /// The message as a JSON string, written straight into the serializer.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.message_str() {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_str(self),
        }
    }
}

impl<E: ApiError + ?Sized> fmt::Debug for Message<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug of a message is its quoted text, like a `&str`'s.
        let mut text = String::new();
        fmt::write(&mut text, format_args!("{self}"))?;
        fmt::Debug::fmt(&text, f)
    }
}

/// The statuses whose requests are worth repeating as they are: 408, 429,
/// 500, 502, 503 and 504.
///
/// API guides agree that other 4xx "won't succeed" until the request
/// changes, and that 429 and the transient 5xx should be retried with backoff.
/// 501 (not implemented) and 505 (version not supported) are 5xx that never
/// heal by themselves, so they are left out.
///
/// ```
/// use rebuff::{retryable_status, StatusCode};
/// assert!(retryable_status(StatusCode::TOO_MANY_REQUESTS));
/// assert!(!retryable_status(StatusCode::NOT_FOUND));
/// assert!(!retryable_status(StatusCode::NOT_IMPLEMENTED));
/// ```
#[must_use]
pub const fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// Whether an answer of `status` may be kept for its idempotency key and
/// replayed: not a 5xx, nor one that asks to be retried. (A `Retry-After`
/// or a body too large keeps it from being kept too.)
#[cfg(any(feature = "openapi", feature = "axum", feature = "actix"))]
pub(crate) fn replayable_status(status: StatusCode) -> bool {
    !status.is_server_error() && !retryable_status(status)
}

/// A boxed error is the error it holds: a `transparent` variant may box a
/// large error type (as clippy's `large_enum_variant` suggests) and still
/// delegate everything to it.
///
/// ```
/// #[derive(Debug, thiserror::Error, rebuff::ApiError)]
/// enum UpstreamError {
///     #[error("upstream timed out")]
///     #[api(status = 504, timeout)]
///     TimedOut,
/// }
///
/// #[derive(Debug, thiserror::Error, rebuff::ApiError)]
/// enum AppError {
///     #[error(transparent)]
///     #[api(transparent)]
///     Upstream(Box<UpstreamError>),
/// }
///
/// use rebuff::ApiError;
/// let err = AppError::Upstream(Box::new(UpstreamError::TimedOut));
/// assert_eq!(err.status(), 504);
/// assert_eq!(err.code(), "timed_out");
///
/// // The retry engine's cut-off attempt becomes the boxed error's timeout.
/// let timed_out = rebuff::retry::TimedOut { limit: std::time::Duration::from_secs(2) };
/// let boxed = Box::<UpstreamError>::from_timeout().unwrap()(timed_out);
/// assert!(matches!(*boxed, UpstreamError::TimedOut));
/// ```
impl<T: ApiError> ApiError for Box<T> {
    type Envelope = T::Envelope;
    const CATALOG: &'static [Entry] = T::CATALOG;
    const STYLE: crate::Style = T::STYLE;

    fn status(&self) -> StatusCode {
        (**self).status()
    }

    fn code(&self) -> &str {
        (**self).code()
    }

    fn fmt_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt_message(f)
    }

    fn message_str(&self) -> Option<&str> {
        (**self).message_str()
    }

    fn type_uri(&self) -> Option<&str> {
        (**self).type_uri()
    }

    fn has_details(&self) -> bool {
        (**self).has_details()
    }

    fn serialize_details<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        (**self).serialize_details(map)
    }

    fn retry_after(&self) -> Option<Duration> {
        (**self).retry_after()
    }

    fn retryable(&self) -> bool {
        (**self).retryable()
    }

    fn rate_limit(&self) -> Option<RateLimit> {
        (**self).rate_limit()
    }

    fn request_id(&self) -> Option<&str> {
        (**self).request_id()
    }

    fn has_errors(&self) -> bool {
        (**self).has_errors()
    }

    fn serialize_errors<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize_errors(serializer)
    }

    fn from_timeout() -> Option<fn(crate::retry::TimedOut) -> Self> {
        fn boxed<T: ApiError>(timed_out: crate::retry::TimedOut) -> Box<T> {
            // Only reached through the `Some` below.
            let unbox = T::from_timeout().unwrap_or_else(|| unreachable!());
            Box::new(unbox(timed_out))
        }
        T::from_timeout().map(|_| boxed::<T> as fn(_) -> _)
    }

    fn from_rejection(rejection: &crate::Rejection) -> Option<Self> {
        T::from_rejection(rejection).map(Box::new)
    }
}

//! Serializable pieces of an error, borrowed from it, for writing envelopes.
//!
//! Each is a thin wrapper whose `Serialize` impl writes straight into the
//! serializer: no `String`, no `serde_json::Value`.

use core::fmt;
use std::time::SystemTime;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::ApiError;

/// The public message of an error: [`crate::Message`], which serializes as
/// a JSON string.
pub use crate::api_error::Message;

/// The `details` of an error, as a JSON object. Check
/// [`ApiError::has_details`] first to leave out an empty one.
pub struct Details<'a, E>(pub &'a E);

impl<E: ApiError> Serialize for Details<'_, E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.0.serialize_details(&mut map)?;
        map.end()
    }
}

/// The list of messages of an error, as a JSON array. Check
/// [`ApiError::has_errors`] first.
pub struct Errors<'a, E>(pub &'a E);

impl<E: ApiError> Serialize for Errors<'_, E> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_errors(serializer)
    }
}

/// A timestamp in RFC 3339 UTC with whole seconds:
/// `"2025-01-01T12:00:00Z"`.
pub struct Rfc3339Seconds(pub SystemTime);

impl Serialize for Rfc3339Seconds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_rfc3339_seconds(self.0))
    }
}

/// A timestamp in RFC 3339 UTC with milliseconds:
/// `"2024-01-16T10:30:00.000Z"`.
pub struct Rfc3339Millis(pub SystemTime);

impl Serialize for Rfc3339Millis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_rfc3339_millis(self.0))
    }
}

/// An error stripped to its status, code and headers, with the status's
/// reason phrase as message. Envelopes fall back to it when the full error
/// cannot be serialized.
pub struct Generic<'a, E>(pub &'a E);

impl<E: ApiError> ApiError for Generic<'_, E> {
    type Envelope = E::Envelope;
    const STYLE: crate::Style = E::STYLE;

    fn status(&self) -> http::StatusCode {
        self.0.status()
    }

    fn code(&self) -> &str {
        self.0.code()
    }

    fn fmt_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(reason_phrase(self.0.status()))
    }

    fn message_str(&self) -> Option<&str> {
        Some(reason_phrase(self.0.status()))
    }

    fn type_uri(&self) -> Option<&str> {
        self.0.type_uri()
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        self.0.retry_after()
    }

    fn retryable(&self) -> bool {
        self.0.retryable()
    }

    fn rate_limit(&self) -> Option<crate::RateLimit> {
        self.0.rate_limit()
    }
}

/// The reason phrase of a status (`"Not Found"`), or `"Error"` for a code
/// without one.
#[must_use]
pub fn reason_phrase(status: http::StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

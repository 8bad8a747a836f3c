use core::fmt;

use serde::ser::{SerializeMap, Serializer};

use super::parts::{Details, Errors, Message, Rfc3339Millis, Rfc3339Seconds, reason_phrase};
use super::{Envelope, ceil_secs};
use crate::ser::Without;
use crate::{ApiError, Context};

/// `{"error":{"code":...,"message":...,"details":{...},"request_id":...}}`
///
/// The nested envelope, as APIs with `snake_case` codes (`file_too_large`)
/// or SCREAMING codes (`AUTHENTICATION_FAILED`) document it. `details` is left out when the
/// error has none, `request_id` when the context has none. No timestamp: the
/// guides of this shape print none.
///
/// ```
/// #[derive(Debug, rebuff::ApiError)]
/// #[api(status = 401, code = "unauthorized", message = "Invalid or missing API key")]
/// struct Unauthorized;
///
/// let ctx = rebuff::Context::new().request_id("req_1a2b3c4d5e");
/// assert_eq!(
///     rebuff::to_vec(&Unauthorized, &ctx),
///     br#"{"error":{"code":"unauthorized","message":"Invalid or missing API key","request_id":"req_1a2b3c4d5e"}}"#,
/// );
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Nested;

impl Envelope for Nested {
    #[cfg(feature = "openapi")]
    fn schema(
        shape: &crate::openapi::Shape<'_>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::nested(shape)
    }

    fn serialize<E: ApiError, S: Serializer>(
        err: &E,
        ctx: &Context,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        struct Inner<'a, E>(&'a E, &'a Context);
        impl<E: ApiError> serde::Serialize for Inner<'_, E> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let Inner(err, ctx) = *self;
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry("code", err.code())?;
                map.serialize_entry("message", &Message(err))?;
                if err.has_details() {
                    map.serialize_entry("details", &Details(err))?;
                }
                if let Some(id) = ctx.get_request_id() {
                    map.serialize_entry("request_id", id)?;
                }
                map.end()
            }
        }
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry("error", &Inner(err, ctx))?;
        map.end()
    }
}

/// `{"success":false,"error":{"code":...,"message":...,"details":{...}},"request_id":...,"timestamp":...}`
///
/// The success envelope. The timestamp has whole seconds
/// (`"2025-01-01T12:00:00Z"`), as the guides of this shape print it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Success;

impl Envelope for Success {
    #[cfg(feature = "openapi")]
    fn schema(
        shape: &crate::openapi::Shape<'_>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::success(shape)
    }

    fn serialize<E: ApiError, S: Serializer>(
        err: &E,
        ctx: &Context,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        struct Inner<'a, E>(&'a E);
        impl<E: ApiError> serde::Serialize for Inner<'_, E> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let err = self.0;
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry("code", err.code())?;
                map.serialize_entry("message", &Message(err))?;
                if err.has_details() {
                    map.serialize_entry("details", &Details(err))?;
                }
                map.end()
            }
        }
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("success", &false)?;
        map.serialize_entry("error", &Inner(err))?;
        if let Some(id) = ctx.get_request_id() {
            map.serialize_entry("request_id", id)?;
        }
        if let Some(at) = ctx.get_timestamp() {
            map.serialize_entry("timestamp", &Rfc3339Seconds(at))?;
        }
        map.end()
    }
}

/// `{"error":"..."}`, `{"error":"...","retry_after":60}` or `{"errors":[...]}`
///
/// The plain envelope, as small APIs document it: the message alone. An
/// error with a retry delay adds `retry_after` in whole seconds; an error with
/// an `errors` list renders only the list. There is no code, details, request
/// id or timestamp in the body (the request id still goes out as
/// `X-Request-Id`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl Envelope for Plain {
    #[cfg(feature = "openapi")]
    fn schema(
        shape: &crate::openapi::Shape<'_>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::plain(shape)
    }

    fn serialize<E: ApiError, S: Serializer>(
        err: &E,
        _ctx: &Context,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if err.has_errors() {
            map.serialize_entry("errors", &Errors(err))?;
        } else {
            map.serialize_entry("error", &Message(err))?;
            if let Some(delay) = err.retry_after() {
                map.serialize_entry("retry_after", &ceil_secs(delay))?;
            }
        }
        map.end()
    }
}

/// `{"success":false,"error":"...","code":...,"details":{...},"timestamp":...,"requestId":...}`
///
/// The flat envelope of lead-management style APIs: the message under
/// `error`, camel-case `requestId`, timestamp with milliseconds
/// (`"2024-01-16T10:30:00.000Z"`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Flat;

impl Envelope for Flat {
    #[cfg(feature = "openapi")]
    fn schema(
        shape: &crate::openapi::Shape<'_>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::flat(shape)
    }

    fn serialize<E: ApiError, S: Serializer>(
        err: &E,
        ctx: &Context,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("success", &false)?;
        map.serialize_entry("error", &Message(err))?;
        map.serialize_entry("code", err.code())?;
        if err.has_details() {
            map.serialize_entry("details", &Details(err))?;
        }
        if let Some(at) = ctx.get_timestamp() {
            map.serialize_entry("timestamp", &Rfc3339Millis(at))?;
        }
        if let Some(id) = ctx.get_request_id() {
            map.serialize_entry("requestId", id)?;
        }
        map.end()
    }
}

/// RFC 9457 problem details, served as `application/problem+json`.
///
/// - `type`: the [style](ApiError::STYLE)'s `type_base` followed by the code (a `/` is put
///   between them if the base does not end with one), or `"about:blank"`
///   without a base;
/// - `title`: the status's reason phrase, the same for every occurrence;
/// - `status`, `detail` (the public message), `instance` (from the context);
/// - extension members: `code`, `request_id`, then every `details` entry.
///   A detail named like a member above is left out rather than shadow it.
///
/// ```
/// #[derive(Debug, rebuff::ApiError)]
/// #[api(type_base = "https://api.example.com/errors", status = 404, message = "Lead not found")]
/// struct LeadNotFound { lead_id: String }
///
/// let ctx = rebuff::Context::new().instance("/api/v1/leads/lead_1");
/// let body = rebuff::envelope::Problem::to_vec(&LeadNotFound { lead_id: "lead_1".into() }, &ctx);
/// # use rebuff::envelope::Envelope;
/// assert_eq!(
///     String::from_utf8(body).unwrap(),
///     r#"{"type":"https://api.example.com/errors/lead_not_found","title":"Not Found","status":404,"detail":"Lead not found","instance":"/api/v1/leads/lead_1","code":"lead_not_found","lead_id":"lead_1"}"#,
/// );
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Problem;

/// The members RFC 9457 defines plus the two rebuff adds (the client's
/// parser reads every other member as an extension).
pub(crate) const PROBLEM_MEMBERS: &[&str] = &[
    "type",
    "title",
    "status",
    "detail",
    "instance",
    "code",
    "request_id",
];

struct TypeUri<'a>(&'static str, &'a str);

impl fmt::Display for TypeUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)?;
        if !self.0.ends_with('/') {
            f.write_str("/")?;
        }
        f.write_str(self.1)
    }
}

impl Envelope for Problem {
    const CONTENT_TYPE: &'static str = "application/problem+json";
    #[cfg(feature = "openapi")]
    fn schema(
        shape: &crate::openapi::Shape<'_>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::problem(shape)
    }

    fn serialize<E: ApiError, S: Serializer>(
        err: &E,
        ctx: &Context,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match (err.type_uri(), E::STYLE.type_base) {
            (Some(uri), _) => map.serialize_entry("type", uri)?,
            (None, Some(base)) => {
                map.serialize_entry("type", &format_args!("{}", TypeUri(base, err.code())))?;
            }
            (None, None) => map.serialize_entry("type", "about:blank")?,
        }
        map.serialize_entry("title", reason_phrase(err.status()))?;
        map.serialize_entry("status", &err.status().as_u16())?;
        map.serialize_entry("detail", &Message(err))?;
        if let Some(instance) = ctx.get_instance() {
            map.serialize_entry("instance", instance)?;
        }
        map.serialize_entry("code", err.code())?;
        if let Some(id) = ctx.get_request_id() {
            map.serialize_entry("request_id", id)?;
        }
        if err.has_details() {
            err.serialize_details(&mut Without {
                map: &mut map,
                reserved: PROBLEM_MEMBERS,
                skip_value: false,
            })?;
        }
        map.end()
    }
}

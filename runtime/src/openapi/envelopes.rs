//! The schema of each built-in envelope for one error, key for key as
//! `envelope/formats.rs` writes it, and the schema a custom envelope gets
//! by default: the one its example shows.

use http::StatusCode;
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};

use super::schema::{Details, FieldSchema, any, of_type};

/// One error as an envelope's schema sees it: what [`Envelope::schema`]
/// builds the body's JSON Schema from.
///
/// [`Envelope::schema`]: crate::envelope::Envelope::schema
pub struct Shape<'a> {
    pub(crate) code: &'a str,
    pub(crate) status: StatusCode,
    pub(crate) message: Option<&'a str>,
    pub(crate) details: Option<&'a Details>,
    pub(crate) errors: Option<&'a FieldSchema>,
    pub(crate) retry_after: bool,
    pub(crate) type_uri: &'a str,
    pub(crate) example: &'a Value,
}

impl core::fmt::Debug for Shape<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Shape")
            .field("code", &self.code)
            .field("status", &self.status)
            .field("example", self.example)
            .finish_non_exhaustive()
    }
}

impl<'a> Shape<'a> {
    /// The machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'a str {
        self.code
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The public message when every occurrence has the same one.
    #[must_use]
    pub fn fixed_message(&self) -> Option<&'a str> {
        self.message
    }

    /// The `details`, when the error has any.
    #[must_use]
    pub fn details(&self) -> Option<&'a Details> {
        self.details
    }

    /// The schema of the list of messages (the `errors` field), if the
    /// error has one.
    #[must_use]
    pub fn errors(&self) -> Option<RefOr<Schema>> {
        self.errors.map(FieldSchema::inlined)
    }

    /// Whether the error carries a retry delay.
    #[must_use]
    pub fn has_retry_after(&self) -> bool {
        self.retry_after
    }

    /// The RFC 9457 `type` of the error.
    #[must_use]
    pub fn type_uri(&self) -> &'a str {
        self.type_uri
    }

    /// The example body in this envelope, as rendered for the document.
    #[must_use]
    pub fn example(&self) -> &'a Value {
        self.example
    }

    /// `{"type":"string","enum":[code]}`.
    fn code_schema(&self) -> Schema {
        constant(Type::String, Value::from(self.code))
    }

    /// A string, one fixed value when the message is.
    fn message_schema(&self) -> Schema {
        match self.message {
            Some(text) => constant(Type::String, Value::from(text)),
            None => of_type(Type::String).into(),
        }
    }

    fn details_schema(&self) -> Option<Schema> {
        self.details.map(Details::schema)
    }
}

/// One value of one type.
fn constant(ty: Type, value: Value) -> Schema {
    of_type(ty).enum_values(Some([value])).into()
}

fn string_format(format: KnownFormat) -> Schema {
    of_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(format)))
        .into()
}

fn uri_reference() -> SchemaFormat {
    SchemaFormat::Custom("uri-reference".to_owned())
}

fn closed(object: ObjectBuilder) -> RefOr<Schema> {
    RefOr::T(
        object
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
            .into(),
    )
}

fn object() -> ObjectBuilder {
    of_type(Type::Object)
}

/// [`crate::envelope::Nested`]:
/// `{"error":{"code","message","details"?,"request_id"?}}`.
pub(crate) fn nested(shape: &Shape<'_>) -> RefOr<Schema> {
    let mut inner = object()
        .property("code", shape.code_schema())
        .property("message", shape.message_schema())
        .required("code")
        .required("message");
    if let Some(details) = shape.details_schema() {
        inner = inner.property("details", details).required("details");
    }
    inner = inner.property("request_id", of_type(Type::String));
    closed(object().property("error", closed(inner)).required("error"))
}

/// [`crate::envelope::Success`]:
/// `{"success":false,"error":{"code","message","details"?},"request_id"?,"timestamp"?}`.
pub(crate) fn success(shape: &Shape<'_>) -> RefOr<Schema> {
    let mut inner = object()
        .property("code", shape.code_schema())
        .property("message", shape.message_schema())
        .required("code")
        .required("message");
    if let Some(details) = shape.details_schema() {
        inner = inner.property("details", details).required("details");
    }
    closed(
        object()
            .property("success", constant(Type::Boolean, Value::Bool(false)))
            .property("error", closed(inner))
            .property("request_id", of_type(Type::String))
            .property("timestamp", string_format(KnownFormat::DateTime))
            .required("success")
            .required("error"),
    )
}

/// [`crate::envelope::Plain`]: `{"errors":[...]}`, or `{"error"}` with
/// `retry_after` when the error has a delay. Not required: a delay held in
/// an `Option` is left out when it is `None`, though the sample the shape
/// is read from has one.
pub(crate) fn plain(shape: &Shape<'_>) -> RefOr<Schema> {
    if let Some(errors) = shape.errors() {
        return closed(object().property("errors", errors).required("errors"));
    }
    let mut body = object()
        .property("error", shape.message_schema())
        .required("error");
    if shape.retry_after {
        body = body.property(
            "retry_after",
            of_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(0)),
        );
    }
    closed(body)
}

/// [`crate::envelope::Flat`]:
/// `{"success":false,"error","code","details"?,"timestamp"?,"requestId"?}`.
pub(crate) fn flat(shape: &Shape<'_>) -> RefOr<Schema> {
    let mut body = object()
        .property("success", constant(Type::Boolean, Value::Bool(false)))
        .property("error", shape.message_schema())
        .property("code", shape.code_schema())
        .required("success")
        .required("error")
        .required("code");
    if let Some(details) = shape.details_schema() {
        body = body.property("details", details).required("details");
    }
    closed(
        body.property("timestamp", string_format(KnownFormat::DateTime))
            .property("requestId", of_type(Type::String)),
    )
}

/// [`crate::envelope::Problem`]: RFC 9457's members, `code` and
/// `request_id`, then the details as extension members.
pub(crate) fn problem(shape: &Shape<'_>) -> RefOr<Schema> {
    let reason = crate::envelope::parts::reason_phrase(shape.status);
    let mut body = object()
        .property(
            "type",
            of_type(Type::String)
                .format(Some(uri_reference()))
                .enum_values(Some([shape.type_uri])),
        )
        .property("title", constant(Type::String, Value::from(reason)))
        .property(
            "status",
            constant(Type::Integer, Value::from(shape.status.as_u16())),
        )
        .property("detail", shape.message_schema())
        .property(
            "instance",
            of_type(Type::String).format(Some(uri_reference())),
        )
        .property("code", shape.code_schema())
        .property("request_id", of_type(Type::String));
    for member in ["type", "title", "status", "detail", "code"] {
        body = body.required(member);
    }
    let open = match shape.details {
        Some(details) => {
            body = details.add_to(body, crate::envelope::PROBLEM_MEMBERS);
            details.is_open()
        }
        None => false,
    };
    RefOr::T(
        body.additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(open)))
            .into(),
    )
}

/// The default of [`Envelope::schema`] for a custom envelope: the shape of
/// its example, member by member (each member's JSON type, nested objects
/// and arrays likewise), none required and none forbidden, so that any
/// body of the same members fits.
///
/// [`Envelope::schema`]: crate::envelope::Envelope::schema
#[must_use]
pub(crate) fn infer(example: &Value) -> RefOr<Schema> {
    RefOr::T(inferred(example, 0))
}

const MAX_INFER_DEPTH: usize = 16;

fn inferred(value: &Value, depth: usize) -> Schema {
    if depth > MAX_INFER_DEPTH {
        return any();
    }
    match value {
        Value::Null => of_type(Type::Null).into(),
        Value::Bool(_) => of_type(Type::Boolean).into(),
        Value::Number(n) if n.is_i64() || n.is_u64() => of_type(Type::Integer).into(),
        Value::Number(_) => of_type(Type::Number).into(),
        Value::String(_) => of_type(Type::String).into(),
        Value::Array(items) => match items.first() {
            Some(first) => ArrayBuilder::new()
                .items(RefOr::T(inferred(first, depth + 1)))
                .into(),
            None => ArrayBuilder::new().items(RefOr::T(any())).into(),
        },
        Value::Object(members) => {
            let mut object = object();
            for (key, member) in members {
                object = object.property(key, inferred(member, depth + 1));
            }
            object.into()
        }
    }
}

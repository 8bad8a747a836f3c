//! One documented error ([`ErrorDoc`]) and the OpenAPI responses a list
//! of them makes: grouped by status, each with the table of its codes, one
//! named example per code and the headers its errors carry.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use http::StatusCode;
use serde_json::Value;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, Schema, SchemaFormat, Type};
use utoipa::openapi::{Content, RefOr};

use super::schema::of_type;
/// One documented error: its status, code, message, retry advice, the
/// headers it carries and its body in each content type, exactly as the
/// server sends it for the sample value.
#[derive(Clone)]
pub struct ErrorDoc {
    pub(super) status: StatusCode,
    pub(super) code: String,
    pub(super) message: String,
    pub(super) description: String,
    pub(super) retryable: bool,
    pub(super) headers: Headers,
    pub(super) bodies: Vec<Body>,
}

#[derive(Clone)]
pub(super) struct Body {
    pub(super) content_type: &'static str,
    pub(super) schema: RefOr<Schema>,
    pub(super) example: Vec<u8>,
}

/// Which headers an error carries: four independent facts, not a state.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Headers {
    pub(super) retry_after: bool,
    pub(super) legacy: bool,
    pub(super) ietf: bool,
    pub(super) allow: bool,
}

impl core::fmt::Debug for ErrorDoc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ErrorDoc")
            .field("status", &self.status)
            .field("code", &self.code)
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl ErrorDoc {
    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The code.
    #[must_use]
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message as the catalog writes it (with its `{field}`
    /// placeholders).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The doc comment of the variant, or what the rejection means.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Whether a client should retry it.
    #[must_use]
    pub fn retryable(&self) -> bool {
        self.retryable
    }

    /// The content types it is documented in: the envelope's, then
    /// `application/problem+json` if negotiated.
    pub fn content_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.bodies.iter().map(|b| b.content_type)
    }

    /// The example body in `content_type`: the bytes the server sends for
    /// the sample value.
    #[must_use]
    pub fn example(&self, content_type: &str) -> Option<&[u8]> {
        self.body(content_type).map(|b| b.example.as_slice())
    }

    /// The schema of the body in `content_type`.
    #[must_use]
    pub fn schema(&self, content_type: &str) -> Option<&RefOr<Schema>> {
        self.body(content_type).map(|b| &b.schema)
    }

    fn body(&self, content_type: &str) -> Option<&Body> {
        self.bodies.iter().find(|b| b.content_type == content_type)
    }

    fn advice(&self) -> &'static str {
        match (self.retryable, self.headers.retry_after) {
            (true, true) => "Yes, after `Retry-After`",
            (true, false) => "Yes, with backoff",
            (false, _) => "No",
        }
    }
}

/// The errors grouped by status: one response each, its description the
/// table of its codes, its examples one per code, its headers every one
/// its errors carry.
pub(crate) fn group(docs: &[ErrorDoc]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<&ErrorDoc>> = BTreeMap::new();
    for doc in docs {
        by_status.entry(doc.status.as_u16()).or_default().push(doc);
    }
    by_status
        .into_iter()
        .map(|(status, docs)| (status.to_string(), RefOr::T(response(&docs))))
        .collect()
}

fn response(docs: &[&ErrorDoc]) -> Response {
    let mut builder = ResponseBuilder::new().description(table(docs));
    let mut content_types: Vec<&'static str> = Vec::new();
    for doc in docs {
        for content_type in doc.content_types() {
            if !content_types.contains(&content_type) {
                content_types.push(content_type);
            }
        }
    }
    for content_type in content_types {
        builder = builder.content(content_type, content(docs, content_type));
    }
    let any = |f: fn(&Headers) -> bool| docs.iter().any(|d| f(&d.headers));
    builder = builder.header("X-Request-Id", request_id_header());
    if any(|h| h.retry_after) {
        builder = builder.header(
            "Retry-After",
            header(
                Type::Integer,
                "Seconds to wait before sending the request again.",
            ),
        );
    }
    for (name, header) in limit_headers(any(|h| h.legacy), any(|h| h.ietf)) {
        builder = builder.header(name, header);
    }
    if any(|h| h.allow) {
        builder = builder.header(
            "Allow",
            header(Type::String, "The methods the path does accept."),
        );
    }
    builder.build()
}

/// `X-Request-Id`, which the server surface sends on every response.
pub(super) fn request_id_header() -> utoipa::openapi::header::Header {
    header(
        Type::String,
        "The id of the request, also in the body where the envelope has one: quote it to support.",
    )
}

/// `Idempotent-Replayed`, on an answer an idempotency key replays.
pub(super) fn replayed_header() -> utoipa::openapi::header::Header {
    header(
        Type::String,
        "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key` (a success, or an error that is not worth retrying).",
    )
}

/// The rate limiter's headers, by name: the `X-RateLimit-*` ones when
/// `legacy`, the IETF draft's fields when `ietf`.
pub(crate) fn limit_headers(
    legacy: bool,
    ietf: bool,
) -> Vec<(&'static str, utoipa::openapi::header::Header)> {
    let mut headers = Vec::new();
    if legacy {
        headers.extend([
            (
                "X-RateLimit-Limit",
                header(Type::Integer, "Requests allowed in the current window."),
            ),
            (
                "X-RateLimit-Remaining",
                header(Type::Integer, "Requests left in the current window."),
            ),
            (
                "X-RateLimit-Reset",
                header(
                    Type::Integer,
                    "When the window resets, in seconds since the Unix epoch.",
                ),
            ),
        ]);
    }
    if ietf {
        headers.extend([
            (
                "RateLimit-Policy",
                header(
                    Type::String,
                    "The caller's quota policies (`\"name\";q=60;w=60`), as the IETF RateLimit fields draft writes them.",
                ),
            ),
            (
                "RateLimit",
                header(
                    Type::String,
                    "What is left of each policy (`\"name\";r=0;t=30`): remaining requests and seconds to reset.",
                ),
            ),
        ]);
    }
    headers
}

fn header(ty: Type, description: &str) -> utoipa::openapi::header::Header {
    let schema = if ty == Type::Integer {
        of_type(ty)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0))
    } else {
        of_type(ty)
    };
    HeaderBuilder::new()
        .schema(schema)
        .description(Some(description))
        .build()
}

fn content(docs: &[&ErrorDoc], content_type: &str) -> Content {
    let bodies: Vec<(&ErrorDoc, &Body)> = docs
        .iter()
        .filter_map(|doc| doc.body(content_type).map(|body| (*doc, body)))
        .collect();
    // Each schema once: errors alike in shape (a plain envelope's) share
    // theirs.
    let mut schemas: Vec<&RefOr<Schema>> = Vec::new();
    for (_, body) in &bodies {
        if !schemas.contains(&&body.schema) {
            schemas.push(&body.schema);
        }
    }
    let schema: RefOr<Schema> = match schemas.as_slice() {
        [only] => (*only).clone(),
        many => RefOr::T(
            many.iter()
                .fold(AnyOfBuilder::new(), |any, schema| {
                    any.item((*schema).clone())
                })
                .into(),
        ),
    };
    let examples = bodies.iter().map(|(doc, body)| {
        let value = serde_json::from_slice::<Value>(&body.example).ok();
        let example = ExampleBuilder::new()
            .summary(cell(&doc.message))
            .description(cell(&doc.description))
            .value(value)
            .build();
        (doc.code.clone(), example)
    });
    Content::builder()
        .schema(Some(schema))
        .examples_from_iter(examples)
        .build()
}

/// The first line of the table a response's description holds.
pub(super) const TABLE_HEAD: &str = "| Code | Message | Retry | Description |";

/// The description of a response: its codes, messages and retry advice.
fn table(docs: &[&ErrorDoc]) -> String {
    let mut out = String::new();
    if let Some(reason) = docs.first().and_then(|d| d.status.canonical_reason()) {
        let _ = writeln!(out, "{reason}.\n");
    }
    out.push_str(TABLE_HEAD);
    out.push_str("\n|---|---|---|---|\n");
    for doc in docs {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            doc.code.replace('`', "'"),
            cell(&doc.message),
            doc.advice(),
            cell(&doc.description),
        );
    }
    out
}

/// Text made safe for a table cell: one line, pipes escaped.
pub(super) fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

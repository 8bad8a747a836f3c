//! The server's rejections as an API document shows them: a sample of each
//! kind, and the schema of its `details` in an error type's key case.

use serde_json::Value;

use super::sample::SAMPLE_TIME_SECS;
use super::schema::{DetailSchema, Details};
use crate::envelope::parts;
use crate::rejection::InStyle;
use crate::{ApiError, RateLimit, Rejection, RejectionKind};

/// A rejection of `kind` with every optional detail set, and one with none
/// set: keys the second lacks are the ones a client cannot count on.
pub(crate) fn samples(kind: RejectionKind) -> (Rejection, Rejection) {
    let reason = || "expected value at line 1 column 1".to_owned();
    let full = match kind {
        RejectionKind::NotFound => Rejection::NotFound {
            path: "/api/v1/unknown".into(),
        },
        RejectionKind::MethodNotAllowed => Rejection::MethodNotAllowed {
            method: "DELETE".into(),
        },
        RejectionKind::InvalidJson => Rejection::InvalidJson { reason: reason() },
        RejectionKind::UnsupportedMediaType => Rejection::UnsupportedMediaType {
            expected: "application/json".into(),
        },
        RejectionKind::PayloadTooLarge => Rejection::PayloadTooLarge {
            file_size: Some(2 << 20),
            max_size: 1 << 20,
        },
        RejectionKind::InvalidPath => Rejection::InvalidPath {
            reason: "cannot parse `abc` as an integer".into(),
        },
        RejectionKind::InvalidQuery => Rejection::InvalidQuery {
            reason: "missing field `page`".into(),
        },
        RejectionKind::InvalidForm => Rejection::InvalidForm {
            reason: "missing field `name`".into(),
        },
        RejectionKind::InvalidMultipart => Rejection::InvalidMultipart {
            reason: "incomplete multipart stream".into(),
        },
        RejectionKind::InvalidHeader => Rejection::InvalidHeader {
            name: "x-api-key".into(),
            reason: "missing".into(),
        },
        RejectionKind::BadRequest => Rejection::BadRequest {
            reason: "the request could not be read".into(),
        },
        RejectionKind::Internal => Rejection::Internal,
        RejectionKind::RequestInProgress => Rejection::RequestInProgress { retry_after: 1 },
        RejectionKind::IdempotencyKeyReused => Rejection::IdempotencyKeyReused,
        RejectionKind::RateLimited => Rejection::RateLimited {
            retry_after: 60,
            limit: "60/minute".into(),
            rate_limit: RateLimit {
                limit: 60,
                remaining: 0,
                reset: SAMPLE_TIME_SECS + 60,
            },
        },
        RejectionKind::Blocked => Rejection::Blocked { retry_after: 600 },
        RejectionKind::Unavailable => Rejection::Unavailable { retry_after: 5 },
    };
    let minimal = match &full {
        Rejection::PayloadTooLarge { max_size, .. } => Rejection::PayloadTooLarge {
            file_size: None,
            max_size: *max_size,
        },
        other => other.clone(),
    };
    (full, minimal)
}

/// The variant's name, as the catalog shows it.
pub(crate) fn name(kind: RejectionKind) -> &'static str {
    <Rejection as ApiError>::CATALOG
        .get(kind as usize)
        .map_or("", |entry| entry.name)
}

/// The `details` of a `kind` rejection in `E`'s key case: strings and
/// non-negative integers, required unless only some occurrences carry
/// them.
pub(crate) fn details<E: ApiError>(kind: RejectionKind) -> Details {
    let (full, minimal) = samples(kind);
    let keys = |rejection: &Rejection| match serde_json::to_value(parts::Details(
        &InStyle::<E>::new(rejection),
    )) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let always = keys(&minimal);
    let mut details = Details::default();
    for (key, value) in keys(&full) {
        let schema = match value {
            Value::String(_) => String::detail_schema(),
            _ => u64::detail_schema(),
        };
        if always.contains_key(&key) {
            details.entry(&key, &schema);
        } else {
            details.optional(&key, &schema);
        }
    }
    details
}

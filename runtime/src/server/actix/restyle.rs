//! Error responses rebuff did not render, answered in the envelope by the
//! [`Surface`](crate::server::Surface): the error an extractor, a handler or
//! another middleware failed with as the rejection it stands for, and the
//! router's bare 404 and 405, each keeping the headers that said something
//! of the request.

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::error::{
    JsonPayloadError, PathError, PayloadError, QueryPayloadError, UrlencodedError,
};
use actix_web::http::header::{self, HeaderValue};

use super::{Rendered, to_actix};
use crate::server::surface::{
    Replaced, Unrendered, bare_rejection, by_status, is_plain_text, keeps_header, overflowed,
    unrendered,
};
use crate::server::{Rejection, Surface, respond_rejection_for, respond_rejection_in, text};
use crate::{ApiError, Context};

/// An error response rebuff did not render, answered in the envelope: the
/// error an extractor (or a handler) failed with as the matching
/// rejection, or a bodyless 404 and 405 of the router; its headers kept.
pub(super) fn restyle<B: MessageBody + 'static>(
    response: ServiceResponse<B>,
    body: Body,
    method: &str,
    path: &str,
    ctx: &Context,
) -> ServiceResponse<EitherBody<B>> {
    let rejection = stands_for(
        response.response(),
        response.response().error(),
        body,
        method,
        path,
    );
    let Some(rejection) = rejection else {
        return response.map_into_left_body();
    };
    let replaced = response.response();
    let mut restyled = to_actix(answer(&rejection, replaced, replaced.error(), ctx));
    keep_headers(response.headers(), restyled.headers_mut());
    let (req, _) = response.into_parts();
    ServiceResponse::new(req, restyled).map_into_right_body()
}

/// The rejection the surface answers an error response with in its place,
/// if any: for an actix-web error rebuff did not render (an extractor's, a
/// handler's or a middleware's of another type) the one it stands for
/// ([`from_actix`]), for a bare 404 or 405 the router's.
fn stands_for<B: MessageBody>(
    response: &actix_web::HttpResponse<B>,
    err: Option<&actix_web::Error>,
    body: Body,
    method: &str,
    path: &str,
) -> Option<Rejection> {
    if response.status().as_u16() < 400 || response.extensions().get::<Rendered>().is_some() {
        return None;
    }
    let status = http::StatusCode::from_u16(response.status().as_u16()).ok()?;
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(HeaderValue::as_bytes);
    match err {
        Some(err) => from_actix(err, status, retry_after, body, method, path),
        None => {
            let seen = Unrendered {
                status,
                bare: is_bare(response),
                plain_text: content_type(response).is_none_or(is_plain_text),
                retry_after,
            };
            unrendered(seen, method, path, body.limit)
        }
    }
}

/// `rejection` rendered in place of `replaced`, and logged once: as the error behind it (`err`) when that is not
/// rebuff's (a 5xx's cause), or as the response it was.
fn answer<B>(
    rejection: &Rejection,
    replaced: &actix_web::HttpResponse<B>,
    err: Option<&actix_web::Error>,
    ctx: &Context,
) -> http::Response<bytes::Bytes> {
    let status = http::StatusCode::from_u16(replaced.status().as_u16())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    match err {
        Some(err) if err.as_error::<Rejection>().is_none() => {
            respond_rejection_for(rejection, err, ctx)
        }
        Some(_) => respond_rejection_in(rejection, ctx),
        None => {
            let cause = Replaced {
                status,
                content_type: content_type(replaced),
            };
            respond_rejection_for(rejection, &cause, ctx)
        }
    }
}

fn content_type<B>(response: &actix_web::HttpResponse<B>) -> Option<&[u8]> {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(HeaderValue::as_bytes)
}

/// Copies what the replaced response said of the request (`Allow`,
/// `WWW-Authenticate`, `Retry-After`, every `Set-Cookie`) onto its
/// replacement: the names it lacks, each with every value.
fn keep_headers(from: &header::HeaderMap, to: &mut header::HeaderMap) {
    for name in from.keys() {
        if keeps_header(name.as_str()) && !to.contains_key(name) {
            for value in from.get_all(name) {
                to.append(name.clone(), value.clone());
            }
        }
    }
}

/// A response with no body and no content type: the router's own 404 and
/// 405.
fn is_bare<B: MessageBody>(response: &actix_web::HttpResponse<B>) -> bool {
    !response.headers().contains_key(header::CONTENT_TYPE)
        && matches!(response.body().size(), BodySize::None | BodySize::Sized(0))
}

/// Whether a response is a rejection rather than the application's
/// answer: a rebuff [`Rejection`] (an extractor's, the default service's),
/// or one the surface answers as a rejection in its place ([`stands_for`]:
/// an actix-web extractor's error, the router's bare 404 and 405). The
/// idempotency middleware does not keep it (see `Claimed::keeps`).
pub(crate) fn is_rejection<B: MessageBody>(response: &ServiceResponse<B>) -> bool {
    let request = response.request();
    let response = response.response();
    if response
        .error()
        .is_some_and(|err| err.as_error::<Rejection>().is_some())
    {
        return true;
    }
    stands_for(
        response,
        response.error(),
        // The status a rejection has does not depend on the limit.
        Body {
            limit: None,
            overflowed: false,
        },
        request.method().as_str(),
        request.path(),
    )
    .is_some()
}

/// An error an inner middleware returned instead of a response (the
/// dispatcher would render it as it is): in the envelope as a handler's
/// error would be ([`stands_for`]), its headers kept.
pub(super) fn restyle_error(
    err: &actix_web::Error,
    body: Body,
    method: &str,
    path: &str,
    ctx: &Context,
) -> actix_web::HttpResponse {
    let original = err.error_response();
    let Some(rejection) = stands_for(&original, Some(err), body, method, path) else {
        return original;
    };
    let mut restyled = to_actix(answer(&rejection, &original, Some(err), ctx));
    keep_headers(original.headers(), restyled.headers_mut());
    restyled
}

/// The rejection an actix-web error stands for: the extractors' by their
/// type; the router's 404 and 405; a 400 of another type (a multipart
/// stream's) with its own reason; anything else by its status as a
/// response of that status would be ([`by_status`]): a 5xx a client
/// retries says nothing of itself, a 503 stays one, and what no rejection
/// stands for (an auth middleware's 401, a 501) goes out as it is.
fn from_actix(
    err: &actix_web::Error,
    status: http::StatusCode,
    retry_after: Option<&[u8]>,
    body: Body,
    method: &str,
    path: &str,
) -> Option<Rejection> {
    let body_limit = body.limit;
    if let Some(rejection) = err.as_error::<Rejection>() {
        return Some(rejection.clone());
    }
    if let Some(err) = err.as_error::<JsonPayloadError>() {
        return Some(match err {
            JsonPayloadError::OverflowKnownLength { length, limit } => Rejection::PayloadTooLarge {
                file_size: u64::try_from(*length).ok(),
                max_size: u64::try_from(*limit).unwrap_or(u64::MAX),
            },
            JsonPayloadError::Overflow { limit } => Rejection::PayloadTooLarge {
                file_size: None,
                max_size: u64::try_from(*limit).unwrap_or(u64::MAX),
            },
            JsonPayloadError::ContentType => Rejection::UnsupportedMediaType {
                expected: "application/json".into(),
            },
            JsonPayloadError::Deserialize(err) => Rejection::InvalidJson { reason: text(err) },
            JsonPayloadError::Payload(err) => from_payload(err, body_limit),
            // The response's own body failed to serialize: the server's
            // fault, and nothing of it is the client's to read.
            JsonPayloadError::Serialize(_) => Rejection::Internal,
            other => Rejection::BadRequest {
                reason: text(other),
            },
        });
    }
    if let Some(err) = err.as_error::<UrlencodedError>() {
        return Some(match err {
            UrlencodedError::Overflow { size, limit } => Rejection::PayloadTooLarge {
                file_size: u64::try_from(*size).ok(),
                max_size: u64::try_from(*limit).unwrap_or(u64::MAX),
            },
            UrlencodedError::ContentType => Rejection::UnsupportedMediaType {
                expected: "application/x-www-form-urlencoded".into(),
            },
            UrlencodedError::Payload(err) => from_payload(err, body_limit),
            UrlencodedError::Serialize(_) => Rejection::Internal,
            other => Rejection::InvalidForm {
                reason: text(other),
            },
        });
    }
    if let Some(err) = err.as_error::<PathError>() {
        return Some(Rejection::InvalidPath { reason: text(err) });
    }
    if let Some(err) = err.as_error::<QueryPayloadError>() {
        return Some(Rejection::InvalidQuery { reason: text(err) });
    }
    if let Some(err) = err.as_error::<PayloadError>() {
        return Some(from_payload(err, body_limit));
    }
    if let Some(rejection) = bare_rejection(status, method, path) {
        return Some(rejection);
    }
    match status.as_u16() {
        // An error of another type (a multipart stream's) over the body
        // the limit cut off: whatever its own reason, the request was
        // over the limit.
        400 if body.overflowed => Some(overflowed(body_limit)),
        400 => Some(Rejection::BadRequest { reason: text(err) }),
        // As a response of that status would be; a 5xx logged where it
        // is answered, with the error as its cause.
        _ => by_status(status, retry_after, body_limit),
    }
}

/// What the request's body came to, for the rejection of an error over it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Body {
    /// The surface's body limit.
    limit: Option<u64>,
    /// Whether the limit cut the body off.
    overflowed: bool,
}

impl Body {
    /// The body of a request `surface` served, `overflowed` as its
    /// [`Limited`] stream left it.
    pub(super) fn of<E: ApiError>(
        surface: &Surface<E>,
        overflowed: &core::cell::Cell<bool>,
    ) -> Self {
        Body {
            limit: surface.get_body_limit(),
            overflowed: overflowed.get(),
        }
    }
}

/// A body that could not be read, in words of the request's own: the
/// error's text may carry the server's I/O errors (`Os { code: 104 }`).
fn from_payload(err: &PayloadError, body_limit: Option<u64>) -> Rejection {
    let reason = match err {
        PayloadError::Overflow => return overflowed(body_limit),
        PayloadError::Incomplete(_) => "the request body ended before it was complete",
        PayloadError::EncodingCorrupted => "the request body's content encoding is corrupt",
        PayloadError::UnknownLength => "the request body's length is unknown",
        _ => "the request body could not be read",
    };
    Rejection::BadRequest {
        reason: reason.into(),
    }
}

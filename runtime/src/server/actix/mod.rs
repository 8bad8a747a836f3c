//! actix-web: the [`Surface`](crate::server::Surface) middleware and derived errors as
//! `ResponseError`s.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use rebuff::ApiError;
//! use rebuff::server::Surface;
//!
//! #[derive(Debug, thiserror::Error, ApiError)]
//! #[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE")]
//! enum LeadError {
//!     #[error("lead {lead_id} not found")]
//!     #[api(status = 404, message = "Lead not found")]
//!     LeadNotFound { lead_id: String },
//! }
//!
//! async fn get_lead(id: web::Path<String>) -> Result<web::Json<serde_json::Value>, LeadError> {
//!     Err(LeadError::LeadNotFound { lead_id: id.into_inner() })
//! }
//!
//! # async fn serve() -> std::io::Result<()> {
//! // Built once and cloned into each worker: its rate limiter and
//! // idempotency keys, when it has them, are then one for the server.
//! let surface = Surface::<LeadError>::new().body_limit(1 << 20);
//! HttpServer::new(move || {
//!     App::new()
//!         .service(web::resource("/api/v1/leads/{id}").route(web::get().to(get_lead)))
//!         .wrap(surface.clone())
//! })
//! .bind("127.0.0.1:3000")?
//! .run()
//! .await
//! # }
//! ```
//!
//! Two things the factory passed to `HttpServer::new` decides:
//!
//! - **Build the surface outside it.** The factory runs once per worker. A
//!   surface built inside gives each worker its own rate limiter and
//!   idempotency store: each worker's own quota, and a retry served again
//!   when it reaches another worker. Clones share them.
//! - **Register a path's methods on one `web::resource`** for a 405 with
//!   `Allow`. actix-web's `App::route` puts the method guard on a resource
//!   of its own, so a request of another method matches no resource, and
//!   the router answers it as an unknown route, a 404.
//!
//! actix-web's own extractors work as they are: the middleware sees the
//! error an extractor failed with (`web::Json`, `web::Path`, `web::Query`,
//! `web::Form`, `web::Bytes`, ...) and answers it as the matching
//! [`Rejection`] in the API's envelope. The router's bodyless 404 and 405
//! are answered in the envelope too, `Allow` kept. A handler error that is
//! not the API's own is answered as the rejection its status stands for (a
//! 400, 404, 405 or 413), goes out as it is when no rejection has its 4xx
//! status (an auth middleware's 401, a 403), stays a 503 (`Unavailable`,
//! its `Retry-After` kept), and is otherwise a 500 that says nothing of it
//! (an `actix_web::error::ErrorInternalServerError`, say).

mod idempotency;
#[cfg(feature = "ratelimit")]
mod ratelimit;
mod restyle;
mod surface;

use core::future::{Ready, ready};
use std::error::Error as StdError;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse};

pub use self::idempotency::{Idempotency, IdempotencyMiddleware};
#[cfg(feature = "ratelimit")]
pub use self::ratelimit::{RateLimit, RateLimitMiddleware};
pub use self::surface::SurfaceMiddleware;
use super::{Rejection, text};
use crate::{ApiError, Context};

/// The status of `err` in actix-web's `http` types.
pub fn status_code<E: ApiError>(err: &E) -> actix_web::http::StatusCode {
    actix_web::http::StatusCode::from_u16(err.status().as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// `err` as the response to the current request.
pub fn error_response<E: ApiError + StdError>(err: &E) -> HttpResponse {
    error_response_with(err, Some(err))
}

/// [`error_response`] for an error that may not implement
/// `std::error::Error`; what the derived `ResponseError` calls.
pub fn error_response_with<E: ApiError>(err: &E, chain: Option<&dyn StdError>) -> HttpResponse {
    to_actix(super::respond_with(err, chain))
}

/// Whether actix-web reads a request's body as chunked: an HTTP/1.1
/// request whose last transfer coding is `chunked`. Then its
/// `Content-Length`, if it sent one too, is not the body's (RFC 9112,
/// section 6.3), though actix-web keeps the header.
pub(super) fn is_chunked(
    headers: &actix_web::http::header::HeaderMap,
    version: actix_web::http::Version,
) -> bool {
    version == actix_web::http::Version::HTTP_11
        && headers
            .get_all(actix_web::http::header::TRANSFER_ENCODING)
            .last()
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .is_some_and(|coding| coding.trim().eq_ignore_ascii_case("chunked"))
}

/// Marks a response rebuff rendered, so that the middleware does not
/// render it again (actix-web hands it the error behind it too).
#[derive(Debug, Clone, Copy)]
pub(super) struct Rendered;

/// A response rebuff rendered, as actix-web's, marked as such.
pub(super) fn to_actix(response: http::Response<bytes::Bytes>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status = actix_web::http::StatusCode::from_u16(parts.status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_ref()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            response.append_header((name, value));
        }
    }
    let mut response = response.body(body);
    response.extensions_mut().insert(Rendered);
    response
}

/// Any [`ApiError`] as a response, for types that do not derive it.
#[derive(Debug)]
pub struct Api<E>(pub E);

impl<E: ApiError + StdError> core::fmt::Display for Api<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

impl<E: ApiError + StdError> actix_web::ResponseError for Api<E> {
    fn status_code(&self) -> actix_web::http::StatusCode {
        status_code(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        error_response(&self.0)
    }
}

/// A rejection answers in the request's style: the [`Surface`](crate::server::Surface)'s error
/// type's, or the default style outside one.
impl actix_web::ResponseError for Rejection {
    fn status_code(&self) -> actix_web::http::StatusCode {
        status_code(self)
    }

    fn error_response(&self) -> HttpResponse {
        to_actix(super::respond_rejection(self))
    }
}

/// Default service for unknown routes: a 404 [`Rejection`] (the
/// [`Surface`](crate::server::Surface) answers the router's own bodyless 404 the same way).
#[allow(clippy::unused_async)] // a handler: the framework awaits it
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, Rejection> {
    Err(Rejection::NotFound {
        path: req.path().to_owned(),
    })
}

/// A typed header (actix-web's `Header` trait), with a missing or malformed
/// one a [`Rejection::InvalidHeader`] that names it.
#[derive(Debug, Clone)]
pub struct Header<T>(pub T);

impl<T: header::Header> FromRequest for Header<T> {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            T::parse(req)
                .map(Header)
                .map_err(|err| Rejection::InvalidHeader {
                    name: T::name().as_str().to_owned(),
                    reason: if req.headers().contains_key(T::name()) {
                        text(&err)
                    } else {
                        "missing".to_owned()
                    },
                }),
        )
    }
}

/// The request's [`Context`]: the middleware's, or a fresh one.
#[must_use]
pub fn current() -> Context {
    super::context()
}

//! The responses of an operation, from the errors it can answer with: one
//! response per status, one named example per code, each rendered through
//! the same path as the server's own responses.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{OpenApi, RefOr};

use super::docs::{Body, ErrorDoc, Headers, group};
use super::envelopes::Shape;
use super::operation::{self, Additions, Served};
use super::sample::SAMPLE_TIME_SECS;
use super::schema::{Details, FieldSchema};
use super::{Documented, Variant, rejections};
use crate::envelope::{Envelope, Problem};
use crate::rate_limit::Families;
use crate::rejection::InStyle;
use crate::{ApiError, Context, Rejection, RejectionKind};

/// The errors one operation (or a whole API) can answer with, as OpenAPI
/// responses: some or all of `E`'s variants and some of the server's
/// rejections in `E`'s style.
///
/// # Default
///
/// [`Responses::new`]: every variant of `E`, no rejection; a second content
/// type `application/problem+json` (the server negotiates it, unless
/// [`Surface::negotiate`](crate::server::Surface::negotiate) is off); no
/// rate-limit headers beyond those a variant carries; examples rendered
/// with the request id `req_1234567890abcdef` at 2024-01-16T10:30:00Z.
///
/// ```
/// use rebuff::{ApiError, RejectionKind};
/// use rebuff::openapi::Responses;
///
/// #[derive(Debug, thiserror::Error, ApiError)]
/// enum LeadError {
///     #[error("unauthorized")]
///     #[api(status = 401, message = "Invalid or missing API key")]
///     Unauthorized,
///     #[error("duplicate")]
///     #[api(status = 409, message = "Email already exists")]
///     DuplicateEmail { #[api(example = "ada@example.com")] email: String },
/// }
///
/// let create = Responses::<LeadError>::new()
///     .rejections(&[RejectionKind::InvalidJson, RejectionKind::PayloadTooLarge])
///     .rate_limit_headers(true)
///     .build();
/// assert_eq!(create.keys().collect::<Vec<_>>(), ["400", "401", "409", "413"]);
/// ```
pub struct Responses<E> {
    pub(super) variants: Option<Vec<&'static str>>,
    pub(super) rejections: Vec<RejectionKind>,
    pub(super) problem: bool,
    /// Of `rejections`, those only a request of a method that is not
    /// idempotent can meet (a surface's idempotency keys').
    pub(super) keyed: Vec<RejectionKind>,
    /// The rate-limit header families on every response.
    pub(super) every: Families,
    /// Those on the limiter's refusals (its default: both).
    pub(super) refusals: Families,
    /// The surface the errors are served behind, if known.
    pub(super) served: Option<Served>,
    /// Samples of rejections as the surface sends them (its body limit's
    /// 413, its keys' 400), in place of the generic ones.
    pub(super) samples: Vec<Rejection>,
    pub(super) context: Context,
    pub(super) _type: PhantomData<fn() -> E>,
}

impl<E> core::fmt::Debug for Responses<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Responses")
            .field("variants", &self.variants)
            .field("rejections", &self.rejections)
            .field("keyed", &self.keyed)
            .field("problem", &self.problem)
            .field("rate_limit_headers", &self.every)
            .field("refusal_headers", &self.refusals)
            .finish_non_exhaustive()
    }
}

impl<E: Documented> Default for Responses<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Documented> Responses<E> {
    /// Every variant of `E`; see [Default](#default).
    #[must_use]
    pub fn new() -> Self {
        Responses {
            variants: None,
            rejections: Vec::new(),
            keyed: Vec::new(),
            problem: true,
            every: Families {
                legacy: false,
                ietf: false,
            },
            refusals: Families {
                legacy: true,
                ietf: true,
            },
            served: None,
            samples: Vec::new(),
            context: Context::new()
                .request_id("req_1234567890abcdef")
                .timestamp(UNIX_EPOCH + Duration::from_secs(SAMPLE_TIME_SECS)),
            _type: PhantomData,
        }
    }

    /// No variant of `E`: only the rejections added with
    /// [`Responses::rejections`].
    #[must_use]
    pub fn none() -> Self {
        Self::new().variants(&[])
    }

    /// Only these variants of `E`, by their Rust names (a `transparent`
    /// variant stands for every error of the type it wraps).
    ///
    /// # Panics
    ///
    /// On a name that is no variant of `E` (a typo would leave the error
    /// out of the document unseen), with the names `E` has.
    #[must_use]
    pub fn variants(mut self, names: &[&'static str]) -> Self {
        let mut all = Vec::new();
        E::variants(&mut all);
        if let Some(unknown) = names
            .iter()
            .find(|name| all.iter().all(|v| v.name != **name))
        {
            let known: Vec<&str> = all.iter().map(|v| v.name).collect();
            panic!(
                "`Responses::variants`: `{unknown}` is no variant of `{}`, which has {known:?}",
                core::any::type_name::<E>()
            );
        }
        self.variants = Some(names.to_vec());
        self
    }

    /// Adds these rejections, in `E`'s style, or as `E`'s own variant
    /// where one answers the rejection (`#[api(rejection = ...)]`,
    /// `answer_rejections`), as the server sends them.
    #[must_use]
    pub fn rejections(mut self, kinds: &[RejectionKind]) -> Self {
        for kind in kinds {
            if !self.rejections.contains(kind) {
                self.rejections.push(*kind);
            }
            // Asked for by name: on every operation.
            self.keyed.retain(|keyed| keyed != kind);
        }
        self
    }

    /// Whether each response also shows `application/problem+json`, which
    /// clients get when they ask for it.
    #[must_use]
    pub fn problem(mut self, on: bool) -> Self {
        self.problem = on;
        self
    }

    /// Whether every response carries the rate limiter's headers
    /// (`X-RateLimit-Limit`/`-Remaining`/`-Reset`, `RateLimit-Policy`,
    /// `RateLimit`), as it does behind a [`Surface`](crate::server::Surface)
    /// with a rate limiter.
    #[must_use]
    pub fn rate_limit_headers(mut self, on: bool) -> Self {
        self.every = Families {
            legacy: on,
            ietf: on,
        };
        self
    }

    /// The sample of a rejection: the surface's, else the generic one.
    fn sample(&self, kind: RejectionKind) -> Rejection {
        self.samples
            .iter()
            .find(|sample| sample.kind() == kind)
            .cloned()
            .unwrap_or_else(|| rejections::samples(kind).0)
    }

    /// The request context the examples are rendered with (request id,
    /// time, `instance`).
    #[must_use]
    pub fn context(mut self, ctx: Context) -> Self {
        self.context = ctx;
        self
    }

    /// Every error documented, in order: the variants, then the
    /// rejections no variant already stands for.
    #[must_use]
    pub fn errors(&self) -> Vec<ErrorDoc> {
        self.errors_for(true)
    }

    /// [`errors`](Self::errors), without the keyed rejections unless
    /// `keyed`.
    fn errors_for(&self, keyed: bool) -> Vec<ErrorDoc> {
        let mut all = Vec::new();
        E::variants(&mut all);
        let mut docs: Vec<ErrorDoc> = all
            .iter()
            .filter(|v| {
                self.variants
                    .as_ref()
                    .is_none_or(|names| names.contains(&v.name))
            })
            .map(|v| self.variant_doc(v))
            .collect();
        let kinds = self
            .rejections
            .iter()
            .filter(|kind| keyed || !self.keyed.contains(kind));
        for kind in kinds {
            let sample = self.sample(*kind);
            let doc = match E::from_rejection(&sample) {
                Some(own) => {
                    let variant = all.iter().find(|v| v.sample.code() == own.code());
                    let details = variant.map(|v| &v.details).cloned().unwrap_or_default();
                    let errors = variant.and_then(|v| v.errors.as_ref());
                    let mut doc = self.doc(&own, &details, errors, entry_of::<E>(own.code()));
                    doc.headers.allow = *kind == RejectionKind::MethodNotAllowed;
                    doc
                }
                None => {
                    let styled = InStyle::<E>::new(&sample);
                    let details = rejections::details::<E>(*kind);
                    let text = (kind.message_template(), kind.description());
                    let mut doc = self.doc(&styled, &details, None, Some(text));
                    doc.headers.allow = *kind == RejectionKind::MethodNotAllowed;
                    doc
                }
            };
            // The limiter's refusals carry its header families (both by
            // default; a surface's limiter's own), whether or not every
            // response is documented with them.
            let mut doc = doc;
            if matches!(kind, RejectionKind::RateLimited | RejectionKind::Blocked) {
                doc.headers.legacy = self.refusals.legacy;
                doc.headers.ietf = self.refusals.ietf;
            }
            // A variant listed already that answers the rejection is the
            // same error; what the rejection adds (`Allow` on a 405) goes
            // onto it.
            match docs.iter_mut().find(|d| d.code == doc.code) {
                Some(listed) => {
                    listed.headers.allow |= doc.headers.allow;
                    listed.headers.legacy |= doc.headers.legacy;
                    listed.headers.ietf |= doc.headers.ietf;
                }
                None => docs.push(doc),
            }
        }
        docs
    }

    fn variant_doc(&self, variant: &Variant<E>) -> ErrorDoc {
        let code = variant.sample.code();
        let entry = entry_of::<E>(code);
        let mut doc = self.doc(
            &variant.sample,
            &variant.details,
            variant.errors.as_ref(),
            entry,
        );
        // A variant that answers the 405 is sent with its `Allow`, listed
        // with the rejection or not.
        doc.headers.allow |= crate::catalog::entries::<E>()
            .into_iter()
            .any(|e| e.code == code && e.answers == Some(RejectionKind::MethodNotAllowed));
        doc
    }

    /// One error, rendered in its envelope (and as problem details).
    fn doc<A: ApiError>(
        &self,
        err: &A,
        details: &Details,
        errors: Option<&FieldSchema>,
        text: Option<(&str, &str)>,
    ) -> ErrorDoc {
        let ctx = self.context.clone().prefer_problem(false);
        let code = err.code();
        let fixed = err.message_str();
        let type_uri = problem_type(err);
        let mut bodies = Vec::new();
        let mut add =
            |content_type: &'static str, body: Vec<u8>, schema: fn(&Shape<'_>) -> RefOr<Schema>| {
                let example = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let shape = Shape {
                    code,
                    status: err.status(),
                    message: fixed,
                    details: err.has_details().then_some(details),
                    errors: if err.has_errors() { errors } else { None },
                    retry_after: err.retry_after().is_some(),
                    type_uri: &type_uri,
                    example: &example,
                };
                let schema = schema(&shape);
                bodies.push(Body {
                    content_type,
                    schema,
                    example: body,
                });
            };
        add(
            A::Envelope::CONTENT_TYPE,
            crate::to_vec(err, &ctx),
            A::Envelope::schema,
        );
        if self.problem && A::Envelope::CONTENT_TYPE != Problem::CONTENT_TYPE {
            add(
                Problem::CONTENT_TYPE,
                Problem::to_vec(err, &ctx),
                Problem::schema,
            );
        }
        let (message, description) = match text {
            Some((message, description)) => (message.to_owned(), description.to_owned()),
            None => (err.message().to_string(), String::new()),
        };
        ErrorDoc {
            status: err.status(),
            code: code.to_owned(),
            message,
            description,
            retryable: err.retryable(),
            headers: Headers {
                retry_after: err.retry_after().is_some(),
                legacy: err.rate_limit().is_some() || self.every.legacy,
                ietf: self.every.ietf,
                allow: false,
            },
            bodies,
        }
    }

    /// The responses, by status: what `utoipa::IntoResponses` returns.
    #[must_use]
    pub fn build(&self) -> BTreeMap<String, RefOr<Response>> {
        group(&self.errors())
    }

    /// Adds the responses to `operation`. A status it documents already
    /// gains the errors it lacks, their examples, schemas (as `anyOf`
    /// alternatives), rows of its table and headers; a status it documents
    /// by reference (`$ref`) is left as it is. With the rate limiter's
    /// headers on every response ([`rate_limit_headers`](Self::rate_limit_headers),
    /// [`surface`](Self::surface)), the operation's own responses are
    /// documented with them too.
    ///
    /// Added from a [`surface`](Self::surface), the operation shows what
    /// the surface does to every response: `X-Request-Id` on each; no
    /// `application/problem+json` beside the envelope's content type when
    /// it does not negotiate problem details; no rate-limit header its
    /// limiter does not send (by name: an `X-RateLimit-Limit` the route
    /// documents of its own goes too, when the limiter sends none); with
    /// idempotency keys, the `Idempotency-Key` request header, and
    /// `Idempotent-Replayed` on the answers a key can replay (not a 5xx,
    /// nor one asking to be retried).
    pub fn add_to(&self, operation: &mut Operation) {
        self.add(operation, &self.build(), true);
    }

    /// Adds the responses to every operation of `api`, as
    /// [`add_to`](Self::add_to) does: the errors any request can meet,
    /// such as the rate limiter's. A [`surface`](Self::surface)'s
    /// idempotency keys' answers go only to the operations of methods that
    /// are not idempotent (POST, PATCH), the only ones keys apply to.
    ///
    /// ```
    /// # #[cfg(any(feature = "axum", feature = "actix"))] {
    /// use std::time::Duration;
    /// use rebuff::ApiError;
    /// use rebuff::openapi::Responses;
    /// use rebuff::server::Surface;
    /// use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};
    /// use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    /// use utoipa::openapi::{OpenApiBuilder, PathsBuilder};
    ///
    /// #[derive(Debug, thiserror::Error, ApiError)]
    /// enum OrderError {
    ///     #[error("no such order")]
    ///     #[api(status = 404, message = "No such order")]
    ///     NoSuchOrder,
    /// }
    ///
    /// let keys = IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(3600)));
    /// let surface = Surface::<OrderError>::new().idempotency(keys);
    /// let orders = PathItem::from_http_methods(
    ///     [HttpMethod::Get, HttpMethod::Post],
    ///     OperationBuilder::new().build(),
    /// );
    /// let mut api = OpenApiBuilder::new()
    ///     .paths(PathsBuilder::new().path("/orders", orders))
    ///     .build();
    /// Responses::<OrderError>::none().surface(&surface).add_to_every_operation(&mut api);
    ///
    /// let orders = &api.paths.paths["/orders"];
    /// let statuses = |op: &Option<utoipa::openapi::path::Operation>| {
    ///     op.as_ref().unwrap().responses.responses.keys().cloned().collect::<Vec<_>>()
    /// };
    /// assert_eq!(statuses(&orders.get), ["413", "500"]);
    /// assert_eq!(statuses(&orders.post), ["400", "409", "413", "422", "500"]);
    /// # }
    /// ```
    pub fn add_to_every_operation(&self, api: &mut OpenApi) {
        let every = self.build();
        let fewer = (!self.keyed.is_empty()).then(|| group(&self.errors_for(false)));
        let idempotent = fewer.as_ref().unwrap_or(&every);
        for item in api.paths.paths.values_mut() {
            let operations = [
                (&mut item.get, http::Method::GET),
                (&mut item.put, http::Method::PUT),
                (&mut item.post, http::Method::POST),
                (&mut item.delete, http::Method::DELETE),
                (&mut item.options, http::Method::OPTIONS),
                (&mut item.head, http::Method::HEAD),
                (&mut item.patch, http::Method::PATCH),
                (&mut item.trace, http::Method::TRACE),
            ];
            for (operation, method) in operations {
                if let Some(operation) = operation {
                    let keyed = !crate::client::is_idempotent(&method);
                    let responses = if keyed { &every } else { idempotent };
                    self.add(operation, responses, keyed);
                }
            }
        }
    }

    fn add(
        &self,
        operation: &mut Operation,
        responses: &BTreeMap<String, RefOr<Response>>,
        keyed: bool,
    ) {
        operation::add(
            operation,
            &Additions {
                responses,
                every: self.every,
                served: self.served,
                keyed,
                envelope: <E::Envelope as Envelope>::CONTENT_TYPE,
            },
        );
    }
}

/// The catalog entry of a code: its message template and doc comment.
fn entry_of<E: ApiError>(code: &str) -> Option<(&'static str, &'static str)> {
    crate::catalog::entries::<E>()
        .into_iter()
        .find(|entry| entry.code == code)
        .map(|entry| (entry.message, entry.description))
}

/// The RFC 9457 `type` [`Problem`] writes for `err`.
fn problem_type<A: ApiError>(err: &A) -> String {
    match (err.type_uri(), A::STYLE.type_base) {
        (Some(uri), _) => uri.to_owned(),
        (None, Some(base)) if base.ends_with('/') => format!("{base}{}", err.code()),
        (None, Some(base)) => format!("{base}/{}", err.code()),
        (None, None) => "about:blank".to_owned(),
    }
}

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
use super::sample::SAMPLE_TIME_SECS;
use super::schema::{Details, FieldSchema};
use super::{Documented, Variant, rejections};
use crate::envelope::{Envelope, Problem};
use crate::rate_limit::Families;
use crate::rejection::InStyle;
use crate::{ApiError, Context, RejectionKind};

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
    variants: Option<Vec<&'static str>>,
    rejections: Vec<RejectionKind>,
    problem: bool,
    /// Of `rejections`, those only a request of a method that is not
    /// idempotent can meet (a surface's idempotency keys').
    keyed: Vec<RejectionKind>,
    /// The rate-limit header families on every response.
    every: Families,
    /// Those on the limiter's refusals (its default: both).
    refusals: Families,
    context: Context,
    _type: PhantomData<fn() -> E>,
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
    /// variant stands for every error of the type it wraps). A name that
    /// is no variant documents nothing.
    #[must_use]
    pub fn variants(mut self, names: &[&'static str]) -> Self {
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

    /// Adds what `surface` can answer any request with on its own
    /// ([`Surface::rejections`](crate::server::Surface::rejections): a 500,
    /// the body limit's 413, the rate limiter's refusals, the idempotency
    /// keys' answers, which a route of a method keys do not apply to never
    /// gives: see [`surface_on`](Self::surface_on)), documents its
    /// rate-limit headers on every response
    /// when it has a limiter, and problem details only when it negotiates
    /// them: the error surface of the one setup call, in the document.
    ///
    /// ```
    /// # #[cfg(feature = "ratelimit")] {
    /// use std::time::Duration;
    /// use rebuff::ApiError;
    /// use rebuff::openapi::Responses;
    /// use rebuff::ratelimit::RateLimiter;
    /// use rebuff::server::Surface;
    /// use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};
    ///
    /// #[derive(Debug, thiserror::Error, ApiError)]
    /// enum OrderError {
    ///     #[error("no such order")]
    ///     #[api(status = 404, message = "No such order")]
    ///     NoSuchOrder,
    /// }
    ///
    /// let surface = Surface::<OrderError>::new()
    ///     .rate_limit(RateLimiter::new())
    ///     .idempotency(IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(3600))));
    /// let every_route = Responses::<OrderError>::none().surface(&surface).build();
    /// assert_eq!(
    ///     every_route.keys().collect::<Vec<_>>(),
    ///     ["400", "409", "413", "422", "429", "500", "503"]
    /// );
    /// # }
    /// ```
    #[cfg(any(feature = "axum", feature = "actix"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "axum", feature = "actix"))))]
    #[must_use]
    pub fn surface(self, surface: &crate::server::Surface<E>) -> Self
    where
        E: ApiError,
    {
        let any = surface.rejections_on(&http::Method::GET);
        let all = surface.rejections();
        let keyed: Vec<RejectionKind> = all
            .iter()
            .copied()
            // Not one named before (on every operation), unless a surface's
            // keys answer it too.
            .filter(|kind| {
                !any.contains(kind)
                    && (!self.rejections.contains(kind) || self.keyed.contains(kind))
            })
            .collect();
        // Listed, and so unflagged, by `surface_with`: flagged again here,
        // each once (the surface's answers have no repeats).
        let mut responses = self.surface_with(surface, &all);
        responses.keyed.extend(keyed);
        responses
    }

    /// [`surface`](Self::surface) for a route answering `method`: without
    /// the idempotency keys' answers on a method they do not apply to
    /// ([`Surface::rejections_on`](crate::server::Surface::rejections_on)).
    /// For one operation: added to every operation of a document, its
    /// answers go to all of them, where `surface` tells methods apart.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rebuff::ApiError;
    /// use rebuff::http::Method;
    /// use rebuff::openapi::Responses;
    /// use rebuff::server::Surface;
    /// use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};
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
    /// let get = Responses::<OrderError>::none().surface_on(&surface, &Method::GET).build();
    /// assert_eq!(get.keys().collect::<Vec<_>>(), ["413", "500"]);
    /// let post = Responses::<OrderError>::none().surface_on(&surface, &Method::POST).build();
    /// assert_eq!(post.keys().collect::<Vec<_>>(), ["400", "409", "413", "422", "500", "503"]);
    /// ```
    #[cfg(any(feature = "axum", feature = "actix"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "axum", feature = "actix"))))]
    #[must_use]
    pub fn surface_on(self, surface: &crate::server::Surface<E>, method: &http::Method) -> Self
    where
        E: ApiError,
    {
        self.surface_with(surface, &surface.rejections_on(method))
    }

    /// [`surface`](Self::surface) with `rejections` as its answers.
    #[cfg(any(feature = "axum", feature = "actix"))]
    fn surface_with(
        self,
        surface: &crate::server::Surface<E>,
        rejections: &[crate::RejectionKind],
    ) -> Self
    where
        E: ApiError,
    {
        let mut responses = self.rejections(rejections);
        if let Some(families) = surface.rate_limit_families() {
            responses.every.legacy |= families.legacy;
            responses.every.ietf |= families.ietf;
            responses.refusals = families;
        }
        responses.problem &= surface.negotiates();
        responses
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
            let (sample, _) = rejections::samples(*kind);
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

    /// Adds the responses to `operation` (a status it already documents
    /// keeps its own response). With the rate limiter's headers on every
    /// response ([`rate_limit_headers`](Self::rate_limit_headers),
    /// [`surface`](Self::surface)), the operation's own responses are
    /// documented with them too.
    pub fn add_to(&self, operation: &mut Operation) {
        self.add(operation, &self.build());
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
    /// assert_eq!(statuses(&orders.post), ["400", "409", "413", "422", "500", "503"]);
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
                    let responses = if crate::client::is_idempotent(&method) {
                        idempotent
                    } else {
                        &every
                    };
                    self.add(operation, responses);
                }
            }
        }
    }

    fn add(&self, operation: &mut Operation, responses: &BTreeMap<String, RefOr<Response>>) {
        let own = &mut operation.responses.responses;
        for (status, response) in responses {
            own.entry(status.clone())
                .or_insert_with(|| response.clone());
        }
        let every = super::docs::limit_headers(self.every.legacy, self.every.ietf);
        for response in own.values_mut() {
            // A reference is to a response documented once, elsewhere.
            if let RefOr::T(response) = response {
                for (name, header) in &every {
                    response
                        .headers
                        .entry((*name).to_owned())
                        .or_insert_with(|| header.clone());
                }
            }
        }
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

/// A code as the name of a component, which OpenAPI 3.1 spells with
/// letters, digits, `.`, `-` and `_` only: any other character (the `/` of
/// `auth/invalid-email`) becomes `_`.
fn component_key(code: &str) -> String {
    code.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A type's name as the start of its components' names: each path's last
/// segment, generic arguments kept (`Page<Item>` is `Page_Item`, so that
/// two of one generic type do not share names), anything OpenAPI does
/// not allow in a name (`<`, `, `, letters past ASCII) as one `_`.
fn type_key(type_name: &str) -> String {
    let mut short = String::with_capacity(type_name.len());
    let mut segment = String::new();
    let mut chars = type_name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            segment.clear();
        } else if c.is_alphanumeric() || c == '_' {
            segment.push(c);
        } else {
            short.push_str(&segment);
            segment.clear();
            short.push(c);
        }
    }
    short.push_str(&segment);
    let mut key = String::with_capacity(short.len());
    for c in component_key(&short).chars() {
        if c != '_' || !key.ends_with('_') {
            key.push(c);
        }
    }
    let key = key.trim_matches('_');
    if key.is_empty() {
        "Error".to_owned()
    } else {
        key.to_owned()
    }
}

/// The catalog of `E` as an OpenAPI document: every error and rejection
/// as a reusable response per status (with each code's example), and each
/// code's body schema, as components.
pub(crate) fn catalog<E: Documented>() -> OpenApi {
    use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder, Paths};
    let docs = Responses::<E>::new()
        .rejections(&RejectionKind::ALL)
        .errors();
    let name = type_key(core::any::type_name::<E>());
    let mut components = ComponentsBuilder::new();
    for (status, response) in group(&docs) {
        components = components.response(format!("{name}.{status}"), response);
    }
    for doc in &docs {
        if let Some(body) = doc.bodies.first() {
            components = components.schema(
                format!("{name}.{}", component_key(&doc.code)),
                body.schema.clone(),
            );
        }
    }
    let components = components.build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(format!("{name} errors"))
                .version("1")
                .description(Some(crate::catalog::markdown::<E>())),
        )
        .paths(Paths::new())
        .components(Some(components))
        .build()
}

#[cfg(test)]
mod tests {
    use super::type_key;

    #[test]
    fn a_types_components_are_named_legally_and_apart() {
        assert_eq!(type_key("my_app::users::LeadError"), "LeadError");
        assert_eq!(
            type_key("my_app::Page<alloc::string::String>"),
            "Page_String"
        );
        assert_ne!(type_key("a::Page<a::X>"), type_key("a::Page<a::Y>"));
        assert_eq!(
            type_key("m::Pair<m::A, core::option::Option<m::B>>"),
            "Pair_A_Option_B"
        );
        assert_eq!(type_key("m::Błąd"), "B_d");
        assert_eq!(type_key("m::ł"), "Error");
        for name in ["a::Vec<a::B<'static>>", "a::Arr<[u8; 4]>", "m::Błąd<m::ż>"] {
            let key = type_key(name);
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')),
                "{key}"
            );
        }
    }
}

//! OpenAPI 3.1 documents of an API's errors, from the same attributes that
//! render them (feature `openapi`, on utoipa 5).
//!
//! With the feature on, `#[derive(ApiError)]` also implements
//! [`Documented`] and `utoipa::IntoResponses` for the type: one response
//! per status, each listing every error of that status with a named
//! example per code, the exact schema of the type's envelope, the
//! `details` of each error as the serializer writes them, and the headers
//! it carries. Examples are rendered by [`crate::to_vec`] from a sample
//! value of each variant, so they cannot drift from what the server sends.
//!
//! ```
//! use rebuff::ApiError;
//! use utoipa::IntoResponses;
//!
//! #[derive(Debug, thiserror::Error, ApiError)]
//! #[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE", rename_all = "camelCase")]
//! enum LeadError {
//!     /// A field of the request is invalid.
//!     #[error("validation failed")]
//!     #[api(status = 400, message = "Validation failed")]
//!     ValidationError { #[api(example = "email")] field: String },
//!     /// No lead has this id.
//!     #[error("lead not found")]
//!     #[api(status = 404, message = "Lead not found")]
//!     LeadNotFound { #[api(example = "lead_123")] lead_id: String },
//! }
//!
//! let responses = LeadError::responses();
//! assert_eq!(responses.keys().collect::<Vec<_>>(), ["400", "404"]);
//! let json = serde_json::to_value(&responses["404"]).unwrap();
//! assert_eq!(
//!     json["content"]["application/json"]["examples"]["LEAD_NOT_FOUND"]["value"]["details"],
//!     serde_json::json!({"leadId": "lead_123"}),
//! );
//! ```
//!
//! # Per route
//!
//! [`Responses`] picks the errors one operation answers with: some of the
//! type's variants and some of the server's [`Rejection`]s (malformed JSON,
//! oversized bodies, the rate limiter's 429, ...), in the type's style.
//! [`openapi_responses!`](crate::openapi_responses) names such a selection as a
//! type, for `#[utoipa::path(responses(...))]`.
//!
//! `Responses::surface` (with the `axum` or `actix` feature) adds what a
//! server's [`Surface`](crate::server::Surface) answers any route with,
//! as it is configured: its 500 and 413, its rate limiter's 429s and
//! headers, its idempotency keys' 409, 422, 400 (and 503 in a store that can fail); with
//! [`Responses::add_to_every_operation`], the whole error surface of the
//! one setup call is in the document, the keys' answers only on the
//! operations of methods keys apply to (POST, PATCH). A status an
//! operation documents already (its own 500, say) gains the surface's
//! errors beside its own; and each operation shows what the surface does
//! to every response (`X-Request-Id`, the rate-limit headers its limiter
//! sends and no others, problem details only if it negotiates them, the
//! `Idempotency-Key` header where keys apply). So a route lists what its
//! handler and extractors answer with, and the surface adds the rest.
//!
//! # Examples and key order
//!
//! An example is stored in the document as a `serde_json::Value`, whose
//! object keys are sorted unless `serde_json`'s `preserve_order` feature is
//! on: turn it on in the server to publish every example with its keys in
//! the order the server sends them. [`ErrorDoc::example`] always has the
//! exact bytes.

mod catalog;
mod docs;
mod envelopes;
mod operation;
pub(crate) mod probe;
mod rejections;
mod responses;
mod sample;
mod schema;
#[cfg(any(feature = "axum", feature = "actix"))]
mod surface;

pub use crate::example::IntoSample;
pub use docs::ErrorDoc;
pub use envelopes::Shape;
pub use responses::Responses;
pub use sample::Sample;
pub use schema::{DetailSchema, Details, FieldSchema};
#[doc(hidden)]
pub use schema::{errors_schema, retry_after_schema};

/// The utoipa crate rebuff builds documents with, for naming its types
/// without a direct dependency.
pub use utoipa;

pub(crate) use catalog::catalog;
pub(crate) use envelopes::{flat, infer, nested, plain, problem, success};

use crate::{ApiError, Rejection};

/// An error type whose errors an API document can show: each variant as a
/// sample value with the schema of its `details`.
///
/// Derived by `#[derive(ApiError)]` with the `openapi` feature; the derive
/// also implements `utoipa::IntoResponses` through it. A `transparent`
/// variant shows the errors of the type it wraps, which must be
/// `Documented` too; the `other` variant of a decoding type, which stands
/// for whatever a server sent, is not shown.
pub trait Documented: ApiError + Sized {
    /// Appends one [`Variant`] per error this type can be.
    fn variants(out: &mut Vec<Variant<Self>>);
}

/// One error of a [`Documented`] type: a sample value and its `details`
/// schema.
pub struct Variant<E> {
    name: &'static str,
    sample: E,
    details: Details,
    errors: Option<FieldSchema>,
}

impl<E> core::fmt::Debug for Variant<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Variant")
            .field("name", &self.name)
            .field("details", &self.details)
            .finish_non_exhaustive()
    }
}

impl<E> Variant<E> {
    /// The variant's name as written in Rust (for a `transparent` variant,
    /// its own name, for every error of the type it wraps).
    #[must_use]
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The value the examples are rendered from.
    #[must_use]
    pub const fn sample(&self) -> &E {
        &self.sample
    }

    /// The schema of its `details`.
    #[must_use]
    pub const fn details(&self) -> &Details {
        &self.details
    }

    /// This error as one of an enclosing type's, through the variant
    /// `name` that wraps it.
    #[must_use]
    pub fn wrap<F>(self, name: &'static str, wrap: impl FnOnce(E) -> F) -> Variant<F> {
        Variant {
            name,
            sample: wrap(self.sample),
            details: self.details,
            errors: self.errors,
        }
    }
}

/// A variant as the derive describes it, entry by entry.
#[doc(hidden)]
pub struct VariantBuilder {
    name: &'static str,
    details: Details,
    errors: Option<FieldSchema>,
}

impl VariantBuilder {
    #[must_use]
    pub fn new(name: &'static str) -> Self {
        VariantBuilder {
            name,
            details: Details::default(),
            errors: None,
        }
    }

    /// A `details` entry.
    #[must_use]
    pub fn entry(mut self, key: &str, schema: &FieldSchema) -> Self {
        self.details.entry(key, schema);
        self
    }

    /// A flattened field.
    #[must_use]
    pub fn flatten(mut self, schema: &FieldSchema) -> Self {
        self.details.flatten(schema);
        self
    }

    /// The `errors` field: the list [`crate::envelope::Plain`] renders.
    #[must_use]
    pub fn errors(mut self, schema: FieldSchema) -> Self {
        self.errors = Some(schema);
        self
    }

    /// The variant, with its sample value.
    pub fn finish<E>(self, sample: E) -> Variant<E> {
        Variant {
            name: self.name,
            sample,
            details: self.details,
            errors: self.errors,
        }
    }
}

/// Appends the errors of `Inner`, each wrapped in the variant `name`.
#[doc(hidden)]
pub fn delegate<Inner: Documented, E>(
    out: &mut Vec<Variant<E>>,
    name: &'static str,
    wrap: fn(Inner) -> E,
) {
    let mut inner = Vec::new();
    Inner::variants(&mut inner);
    out.extend(inner.into_iter().map(|v| v.wrap(name, wrap)));
}

/// A boxed error shows the errors of the type it holds.
impl<T: Documented> Documented for Box<T> {
    fn variants(out: &mut Vec<Variant<Self>>) {
        let mut inner = Vec::new();
        T::variants(&mut inner);
        out.extend(inner.into_iter().map(|v| {
            let name = v.name();
            v.wrap(name, Box::new)
        }));
    }
}

/// The rejections alone, rendered in the default style.
impl Documented for Rejection {
    fn variants(out: &mut Vec<Variant<Self>>) {
        for kind in crate::RejectionKind::ALL {
            let (sample, _) = rejections::samples(kind);
            let details = rejections::details::<Rejection>(kind);
            out.push(Variant {
                name: rejections::name(kind),
                sample,
                details,
                errors: None,
            });
        }
    }
}

/// Every rejection the server can answer with, in `E`'s style, as
/// `utoipa::IntoResponses`: for `#[utoipa::path(responses(...))]` or an
/// API-wide list. [`Responses::rejections`] picks some.
pub struct Rejections<E>(core::marker::PhantomData<fn() -> E>);

impl<E: Documented> utoipa::IntoResponses for Rejections<E> {
    fn responses()
    -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
        Responses::<E>::none()
            .rejections(&crate::RejectionKind::ALL)
            .build()
    }
}

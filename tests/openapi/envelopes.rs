//! One error type in each envelope (the five built in, a custom one with
//! its own schema and a custom one with the default): every example of its
//! responses valid against its schema, byte for byte what the server
//! renders from the same sample value, and its documents OpenAPI 3.1.

use rebuff::envelope::{Envelope, Problem};
use rebuff::openapi::{Documented, Responses, Shape};
use rebuff::{ApiError, Context, RejectionKind};
use serde::ser::{SerializeMap, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// `{"status":404,"code":"...","reason":"..."}`, with the exact schema.
pub struct Terse;

impl Envelope for Terse {
    fn serialize<E: ApiError, S: Serializer>(
        err: &E,
        _: &Context,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("status", &err.status().as_u16())?;
        map.serialize_entry("code", err.code())?;
        map.serialize_entry("reason", &rebuff::envelope::parts::Message(err))?;
        map.end()
    }

    fn schema(shape: &Shape<'_>) -> RefOr<Schema> {
        let reason = match shape.fixed_message() {
            Some(text) => ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([text])),
            None => ObjectBuilder::new().schema_type(Type::String),
        };
        RefOr::T(
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "status",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .enum_values(Some([shape.status().as_u16()])),
                )
                .property(
                    "code",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([shape.code()])),
                )
                .property("reason", reason)
                .required("status")
                .required("code")
                .required("reason")
                .additional_properties(Some(
                    utoipa::openapi::schema::AdditionalProperties::<Schema>::FreeForm(false),
                ))
                .into(),
        )
    }
}

/// `{"fault":{"code":"...","text":"...","details":{...}},"trace":"req_..."}`,
/// with the schema inferred from its example (the trait's default).
pub struct Echo;

impl Envelope for Echo {
    fn serialize<E: ApiError, S: Serializer>(
        err: &E,
        ctx: &Context,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        struct Fault<'a, E>(&'a E);
        impl<E: ApiError> serde::Serialize for Fault<'_, E> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(None)?;
                map.serialize_entry("code", self.0.code())?;
                map.serialize_entry("text", &rebuff::envelope::parts::Message(self.0))?;
                if self.0.has_details() {
                    map.serialize_entry("details", &rebuff::envelope::parts::Details(self.0))?;
                }
                map.end()
            }
        }
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("fault", &Fault(err))?;
        if let Some(id) = ctx.get_request_id() {
            map.serialize_entry("trace", id)?;
        }
        map.end()
    }
}

/// The same error type in the envelope `$envelope`, with its sample values
/// written out as the derive builds them (`#[api(example)]`, else the
/// field type's sample: a string is the field's name, a number 1).
macro_rules! errors_in {
    ($module:ident, $envelope:ident) => {
        pub mod $module {
            #[allow(unused_imports)]
            use rebuff::envelope::{Flat, Nested, Plain, Problem, Success};
            #[allow(unused_imports)]
            use super::{Echo, Terse};

            #[derive(Debug, thiserror::Error, rebuff::ApiError)]
            #[api(envelope = $envelope, type_base = "https://errors.example.com/")]
            pub enum Errors {
                /// A field of the request is invalid.
                #[error("invalid {field}")]
                #[api(status = 400, message = "Validation failed on {field}")]
                Validation {
                    #[api(example = "email")]
                    field: String,
                    #[api(example = "Must be a valid email address")]
                    reason: String,
                },
                /// A required field is missing.
                #[error("missing field")]
                #[api(status = 400, code = "missing_field", message = "A required field is missing")]
                MissingField { field: String },
                /// Several fields are invalid.
                #[error("invalid fields")]
                #[api(status = 422, message = "The request is invalid")]
                Invalid {
                    #[api(errors, example = vec!["name is required".to_owned(), "email is invalid".to_owned()])]
                    errors: Vec<String>,
                },
                /// No lead has this id.
                #[error("lead not found")]
                #[api(status = 404, message = "Lead not found")]
                LeadNotFound {
                    #[api(example = "lead_123")]
                    lead_id: String,
                    #[api(skip)]
                    shard: u64,
                },
                /// Too many requests.
                #[error("rate limited")]
                #[api(status = 429, message = "Rate limit exceeded. Try again in {retry_after} seconds.")]
                RateLimited {
                    #[api(retry_after, example = 60)]
                    retry_after: u64,
                    #[api(rate_limit)]
                    limits: rebuff::RateLimit,
                },
                /// The database failed; nothing of it is sent.
                #[error("database")]
                #[api(status = 500)]
                Database(#[source] std::io::Error),
                /// Too much work queued.
                #[error("overloaded")]
                #[api(status = 503, message = "Overloaded")]
                Overloaded {
                    #[api(expose)]
                    queue: u32,
                    secret: String,
                },
            }

            /// Each variant's sample value, by variant name.
            pub fn samples() -> Vec<(&'static str, Errors)> {
                vec![
                    (
                        "Validation",
                        Errors::Validation {
                            field: "email".into(),
                            reason: "Must be a valid email address".into(),
                        },
                    ),
                    ("MissingField", Errors::MissingField { field: "field".into() }),
                    (
                        "Invalid",
                        Errors::Invalid {
                            errors: vec!["name is required".into(), "email is invalid".into()],
                        },
                    ),
                    ("LeadNotFound", Errors::LeadNotFound { lead_id: "lead_123".into(), shard: 1 }),
                    (
                        "RateLimited",
                        Errors::RateLimited {
                            retry_after: 60,
                            limits: rebuff::RateLimit { limit: 60, remaining: 0, reset: 1_705_401_060 },
                        },
                    ),
                    ("Database", Errors::Database(std::io::Error::other("0"))),
                    ("Overloaded", Errors::Overloaded { queue: 1, secret: "secret".into() }),
                ]
            }
        }
    };
}

errors_in!(nested, Nested);
errors_in!(success, Success);
errors_in!(plain, Plain);
errors_in!(flat, Flat);
errors_in!(problem, Problem);
errors_in!(terse, Terse);
errors_in!(echo, Echo);

pub fn context() -> Context {
    Context::new()
        .request_id("req_0123456789abcdef")
        .timestamp(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_705_401_000))
        .instance("/api/v1/leads")
}

/// Every example of `E`'s responses (its variants and every rejection)
/// against its schema, in the document and in each [`rebuff::openapi::ErrorDoc`].
fn examples_match_their_schemas<E: Documented>() {
    let responses = Responses::<E>::new()
        .rejections(&RejectionKind::ALL)
        .context(context());
    let examples = crate::check::examples(&responses.build());
    let docs = responses.errors();
    // Every error in its envelope, and as problem details unless that is
    // the envelope.
    let per_error = if <E::Envelope as Envelope>::CONTENT_TYPE == Problem::CONTENT_TYPE {
        1
    } else {
        2
    };
    assert_eq!(examples.len(), docs.len() * per_error);
    for doc in &docs {
        for content_type in doc.content_types() {
            let example: serde_json::Value =
                serde_json::from_slice(doc.example(content_type).unwrap()).unwrap();
            let schema = serde_json::to_value(doc.schema(content_type).unwrap()).unwrap();
            crate::check::validate(&schema, &example, &format!("{} {content_type}", doc.code()));
        }
    }
}

/// For each variant, the documented example (in `ErrorDoc` and in the
/// document) is `rebuff::to_vec` of the same sample value, and so is its
/// problem-details example.
fn examples_are_what_the_server_sends<E: Documented>(samples: Vec<(&'static str, E)>) {
    assert_eq!(samples.len(), E::CATALOG.len(), "a sample per variant");
    let ctx = context();
    let responses = Responses::<E>::new().context(ctx.clone());
    let docs = responses.errors();
    let built = serde_json::to_value(responses.build()).unwrap();
    let mut variants = Vec::new();
    E::variants(&mut variants);
    for (name, sample) in &samples {
        let expected = rebuff::to_vec(sample, &ctx);
        let variant = variants
            .iter()
            .find(|v| v.name() == *name)
            .unwrap_or_else(|| panic!("{name} documented"));
        assert_eq!(
            rebuff::to_vec(variant.sample(), &ctx),
            expected,
            "{name}: the derive's sample"
        );
        let doc = docs.iter().find(|d| d.code() == sample.code()).unwrap();
        let content_type = <E::Envelope as Envelope>::CONTENT_TYPE;
        assert_eq!(
            String::from_utf8_lossy(doc.example(content_type).unwrap()),
            String::from_utf8_lossy(&expected),
            "{name}"
        );
        let status = sample.status().as_u16().to_string();
        let in_document =
            &built[&status]["content"][content_type]["examples"][sample.code()]["value"];
        assert_eq!(
            String::from_utf8(serde_json::to_vec(in_document).unwrap()).unwrap(),
            String::from_utf8_lossy(&expected),
            "{name} in the document"
        );
        let problem = Problem::to_vec(sample, &ctx);
        assert_eq!(
            doc.example(Problem::CONTENT_TYPE).unwrap(),
            problem.as_slice(),
            "{name} as problem details"
        );
    }
}

/// A document with one operation answering with every error of `E` and
/// every rejection, and the catalog of `E`: both OpenAPI 3.1.
fn documents_are_openapi_3_1<E: Documented>() {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    use utoipa::openapi::{InfoBuilder, OpenApiBuilder, PathsBuilder, ResponsesBuilder};
    let responses = Responses::<E>::new()
        .rejections(&RejectionKind::ALL)
        .build();
    let operation = OperationBuilder::new()
        .operation_id(Some("createLead"))
        .responses(ResponsesBuilder::new().responses_from_iter(responses))
        .build();
    let api = OpenApiBuilder::new()
        .info(InfoBuilder::new().title("Leads").version("1").build())
        .paths(
            PathsBuilder::new().path("/api/v1/leads", PathItem::new(HttpMethod::Post, operation)),
        )
        .build();
    crate::check::document(&api);
    let catalog = crate::check::document(&rebuff::catalog::openapi::<E>());
    assert!(
        !catalog["components"]["responses"]
            .as_object()
            .unwrap()
            .is_empty()
    );
}

macro_rules! envelope_tests {
    ($($module:ident),*) => {$(
        mod $module {
            use crate::envelopes::$module::{samples, Errors};

            #[test]
            fn examples_match_their_schemas() {
                crate::envelopes::examples_match_their_schemas::<Errors>();
            }

            #[test]
            fn examples_are_what_the_server_sends() {
                crate::envelopes::examples_are_what_the_server_sends(samples());
            }

            #[test]
            fn documents_are_openapi_3_1() {
                crate::envelopes::documents_are_openapi_3_1::<Errors>();
            }
        }
    )*};
}

mod tests {
    envelope_tests!(nested, success, plain, flat, problem, terse, echo);
}

/// The schema of a custom envelope is its own `Envelope::schema`: a body
/// with another code does not fit.
#[test]
fn custom_schema_is_the_envelopes_own() {
    let docs = Responses::<terse::Errors>::new().problem(false).errors();
    let doc = docs.iter().find(|d| d.code() == "lead_not_found").unwrap();
    let schema = serde_json::to_value(doc.schema("application/json").unwrap()).unwrap();
    assert_eq!(
        schema["properties"]["code"]["enum"],
        serde_json::json!(["lead_not_found"])
    );
    assert!(!jsonschema::is_valid(
        &schema,
        &serde_json::json!({"status": 404, "code": "other", "reason": "Lead not found"})
    ));
}

/// A 5xx example shows the generic message and only the exposed details.
#[test]
fn server_errors_show_nothing_of_their_source() {
    let docs = Responses::<nested::Errors>::new()
        .context(context())
        .errors();
    let database = docs.iter().find(|d| d.code() == "database").unwrap();
    assert_eq!(
        database.example("application/json").unwrap(),
        br#"{"error":{"code":"database","message":"Internal Server Error","request_id":"req_0123456789abcdef"}}"#
    );
    let overloaded = docs.iter().find(|d| d.code() == "overloaded").unwrap();
    assert_eq!(
        overloaded.example("application/json").unwrap(),
        br#"{"error":{"code":"overloaded","message":"Overloaded","details":{"queue":1},"request_id":"req_0123456789abcdef"}}"#
    );
}

/// A delay held in an `Option` is left out of a plain body when it is
/// `None`: that body still fits the documented schema.
#[test]
fn a_plain_body_without_its_optional_delay_fits_its_schema() {
    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    #[api(envelope = rebuff::envelope::Plain)]
    enum Busy {
        #[error("busy")]
        #[api(status = 503, message = "Busy")]
        Busy {
            #[api(retry_after)]
            retry_after: Option<u64>,
        },
    }
    let docs = Responses::<Busy>::new().errors();
    let schema = serde_json::to_value(
        docs[0]
            .schema(rebuff::envelope::Plain::CONTENT_TYPE)
            .unwrap(),
    )
    .unwrap();
    for err in [
        Busy::Busy { retry_after: None },
        Busy::Busy {
            retry_after: Some(30),
        },
    ] {
        let body: serde_json::Value =
            serde_json::from_slice(&rebuff::to_vec(&err, &context())).unwrap();
        crate::check::validate(&schema, &body, &format!("{body}"));
    }
}

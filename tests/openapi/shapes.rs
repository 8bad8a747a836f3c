//! `details` as the serializer writes them: a generic field, flattened
//! structs and maps, skipped and renamed fields, serde's own renames, an
//! `Option` written as `null`; the examples valid against the schemas and
//! the schemas as tight as the fields.

use std::collections::BTreeMap;

use rebuff::RejectionKind;
use rebuff::openapi::{Documented, Responses};
use serde_json::json;

/// Flattened into `details` with serde's own names.
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Limits {
    max_size_mb: u32,
    #[serde(rename = "unit")]
    unit_name: String,
    note: Option<String>,
}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(envelope = rebuff::envelope::Success, rename_all = "camelCase")]
pub enum Upload<T> {
    /// The file is over the limit.
    #[error("too large")]
    #[api(status = 413, message = "File too large")]
    TooLarge {
        #[api(example = "report.pdf")]
        file_name: String,
        #[api(flatten)]
        limits: Limits,
        #[api(skip)]
        trace_id: String,
        #[api(rename = "got")]
        value: T,
    },
    /// The file's type is not accepted.
    #[error("unsupported")]
    #[api(status = 415, message = "Unsupported file type")]
    Unsupported {
        content_type: String,
        #[api(flatten)]
        extra: BTreeMap<String, u32>,
    },
}

fn samples<T: rebuff::openapi::Sample>() -> Vec<(&'static str, Upload<T>)> {
    vec![
        (
            "TooLarge",
            Upload::TooLarge {
                file_name: "report.pdf".into(),
                limits: Limits::default(),
                trace_id: "trace_id".into(),
                value: T::sample("value"),
            },
        ),
        (
            "Unsupported",
            Upload::Unsupported {
                content_type: "content_type".into(),
                extra: BTreeMap::from([("extra".to_owned(), 1)]),
            },
        ),
    ]
}

fn check<T>()
where
    T: rebuff::openapi::Sample
        + rebuff::openapi::DetailSchema
        + serde::Serialize
        + std::fmt::Debug
        + 'static,
    Upload<T>: Documented,
{
    let responses = Responses::<Upload<T>>::new().rejections(&[RejectionKind::PayloadTooLarge]);
    assert!(!crate::check::examples(&responses.build()).is_empty());
    for doc in responses.errors() {
        for content_type in doc.content_types() {
            let example = serde_json::from_slice(doc.example(content_type).unwrap()).unwrap();
            let schema = serde_json::to_value(doc.schema(content_type).unwrap()).unwrap();
            crate::check::validate(&schema, &example, doc.code());
        }
    }
}

#[test]
fn generic_flatten_and_skip_examples_match_their_schemas() {
    check::<u64>();
    check::<Vec<String>>();
    check::<Option<bool>>();
}

#[test]
fn generic_flatten_and_skip_examples_are_what_the_server_sends() {
    let ctx = crate::envelopes::context();
    let responses = Responses::<Upload<u64>>::new().context(ctx.clone());
    let docs = responses.errors();
    for (name, sample) in samples::<u64>() {
        let doc = docs
            .iter()
            .find(|d| d.code() == rebuff::ApiError::code(&sample))
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(doc.example("application/json").unwrap()),
            String::from_utf8_lossy(&rebuff::to_vec(&sample, &ctx)),
            "{name}"
        );
    }
    let too_large = docs.iter().find(|d| d.code() == "too_large").unwrap();
    let body: serde_json::Value =
        serde_json::from_slice(too_large.example("application/json").unwrap()).unwrap();
    assert_eq!(
        body["error"]["details"],
        json!({"fileName": "report.pdf", "max_size_mb": 0, "unit": "", "note": null, "got": 1})
    );
}

/// The `details` schema has exactly the keys the serializer writes: the
/// flattened struct's (in serde's names), the renamed field, no skipped
/// one; a flattened map leaves it open.
#[test]
fn details_schema_is_the_serialized_shape() {
    let docs = Responses::<Upload<u64>>::new().problem(false).errors();
    let schema = |code: &str| {
        let doc = docs.iter().find(|d| d.code() == code).unwrap();
        serde_json::to_value(doc.schema("application/json").unwrap()).unwrap()
    };
    let too_large = schema("too_large");
    let details = &too_large["properties"]["error"]["properties"]["details"];
    let mut keys: Vec<&str> = details["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["fileName", "got", "max_size_mb", "note", "unit"],
        "{details:#}"
    );
    let wrong = json!({"success": false, "error": {"code": "too_large", "message": "File too large",
        "details": {"fileName": "a", "max_size_mb": 1, "unit": "MB", "note": null, "got": 1, "traceId": "x"}}});
    assert!(
        !jsonschema::is_valid(&too_large, &wrong),
        "a skipped field is not allowed"
    );
    let wrong = json!({"success": false, "error": {"code": "too_large", "message": "File too large",
        "details": {"fileName": "a", "max_size_mb": 1, "unit": "MB", "note": null, "got": "one"}}});
    assert!(
        !jsonschema::is_valid(&too_large, &wrong),
        "the generic field is a number"
    );
    let unsupported = schema("unsupported");
    let open = json!({"success": false, "error": {"code": "unsupported", "message": "Unsupported file type",
        "details": {"contentType": "text/plain", "anything": 3}}});
    crate::check::validate(&unsupported, &open, "a flattened map's keys");
}

/// A detail that is an `Option` of a type which admits `null` itself (any
/// JSON value) is `null` when absent: the schema accepts what is sent.
#[test]
fn an_optional_json_value_detail_accepts_the_null_sent() {
    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    enum Failing {
        #[error("bad input")]
        #[api(status = 400)]
        BadInput { context: Option<serde_json::Value> },
    }
    let err = Failing::BadInput { context: None };
    let sent: serde_json::Value =
        serde_json::from_slice(&rebuff::to_vec(&err, &rebuff::Context::new())).unwrap();
    assert!(sent["error"]["details"]["context"].is_null(), "{sent}");
    let docs = Responses::<Failing>::new().problem(false).errors();
    let doc = docs.iter().find(|d| d.code() == "bad_input").unwrap();
    let schema = serde_json::to_value(doc.schema("application/json").unwrap()).unwrap();
    assert!(jsonschema::is_valid(&schema, &sent), "{schema:#}\n{sent}");
}

/// A generic error whose parameter only a skipped marker field holds is
/// documented: the marker shows nowhere.
#[test]
fn a_generic_errors_skipped_marker_field_is_documented() {
    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    enum Typed<T: std::fmt::Debug + 'static> {
        #[error("not found")]
        #[api(status = 404)]
        Missing {
            id: u64,
            #[api(skip)]
            _of: std::marker::PhantomData<T>,
        },
    }
    let docs = Responses::<Typed<String>>::new().errors();
    let doc = docs.iter().find(|d| d.code() == "missing").unwrap();
    let schema = serde_json::to_value(doc.schema("application/json").unwrap()).unwrap();
    let text = schema.to_string();
    assert!(text.contains("\"id\""), "{schema:#}");
    assert!(!text.contains("_of"), "{schema:#}");
}

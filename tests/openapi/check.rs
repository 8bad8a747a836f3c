//! The validators: JSON Schema 2020-12 for examples (formats asserted), the
//! 2020-12 meta-schema for the schemas themselves, and the OpenAPI 3.1
//! schema for whole documents.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;
use utoipa::openapi::response::Response;
use utoipa::openapi::{OpenApi, RefOr};

/// The schema of OpenAPI 3.1 documents (2022-10-07) as the OpenAPI
/// Initiative publishes it (Apache-2.0), taken from the
/// `openapi-spec-validator` Python package that ships a copy. It checks
/// the document's structure; the schemas inside it are checked against the
/// JSON Schema 2020-12 meta-schema by [`schema`].
const OAS_3_1: &str = include_str!("fixtures/oas-3.1.json");

/// Fails with every error of `instance` against `schema`, which must itself
/// be a valid JSON Schema 2020-12.
#[track_caller]
pub fn validate(schema: &Value, instance: &Value, what: &str) {
    schema_is_valid(schema, what);
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|err| panic!("{what}: schema does not compile: {err}\n{schema:#}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|err| format!("{} at {}", err, err.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: the example does not match its schema:\n{}\nexample: {instance}\nschema: {schema:#}",
        errors.join("\n"),
    );
}

/// Fails unless `schema` is a valid JSON Schema 2020-12.
#[track_caller]
pub fn schema_is_valid(schema: &Value, what: &str) {
    if let Err(err) = jsonschema::draft202012::meta::validate(schema) {
        panic!("{what}: not a valid JSON Schema 2020-12: {err}\n{schema:#}");
    }
}

/// What makes `doc` no OpenAPI 3.1 document, if anything.
pub fn openapi_3_1_errors(doc: &Value) -> Vec<String> {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    let validator = VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(OAS_3_1).unwrap();
        jsonschema::draft202012::new(&schema).unwrap()
    });
    validator
        .iter_errors(doc)
        .map(|err| format!("{} at {}", err, err.instance_path()))
        .collect()
}

/// Fails unless `doc` is a valid OpenAPI 3.1 document whose schemas are
/// valid JSON Schemas.
#[track_caller]
pub fn openapi_3_1(doc: &Value) {
    let errors = openapi_3_1_errors(doc);
    assert!(errors.is_empty(), "not OpenAPI 3.1:\n{}", errors.join("\n"));
    assert_eq!(doc["openapi"], "3.1.0");
    let mut schemas = 0;
    each_schema(doc, &mut |schema| {
        schemas += 1;
        schema_is_valid(schema, "a schema of the document");
    });
    assert!(schemas > 0, "the document has no schema");
}

/// Calls `f` with every `schema` of a media type and every component
/// schema in `doc`.
fn each_schema(value: &Value, f: &mut impl FnMut(&Value)) {
    match value {
        Value::Object(map) => {
            for (key, member) in map {
                match key.as_str() {
                    "schema" if member.is_object() => f(member),
                    "schemas" if member.is_object() => {
                        member.as_object().unwrap().values().for_each(&mut *f)
                    }
                    _ => each_schema(member, f),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| each_schema(item, f)),
        _ => {}
    }
}

/// Each example of each content of each response, validated against the
/// content's schema; returns `(status, content type, example name,
/// example)` for every one.
#[track_caller]
pub fn examples(
    responses: &BTreeMap<String, RefOr<Response>>,
) -> Vec<(String, String, String, Value)> {
    let mut out = Vec::new();
    for (status, response) in responses {
        let response = serde_json::to_value(response).unwrap();
        let content = response["content"]
            .as_object()
            .unwrap_or_else(|| panic!("{status}: no content"));
        for (content_type, media) in content {
            let schema = &media["schema"];
            let examples = media["examples"]
                .as_object()
                .unwrap_or_else(|| panic!("{status} {content_type}: no examples"));
            assert!(!examples.is_empty(), "{status} {content_type}: no examples");
            for (name, example) in examples {
                let value = &example["value"];
                validate(schema, value, &format!("{status} {content_type} {name}"));
                out.push((
                    status.clone(),
                    content_type.clone(),
                    name.clone(),
                    value.clone(),
                ));
            }
        }
    }
    out
}

/// `api` as JSON, checked as OpenAPI 3.1.
#[track_caller]
pub fn document(api: &OpenApi) -> Value {
    let doc = serde_json::to_value(api).unwrap();
    openapi_3_1(&doc);
    doc
}

/// Status → the codes its examples name (each found at the JSON pointer
/// `code_at` of its example: `/code` in the flat envelope, `/error/code` in
/// the nested one), each example checked against the response's schema and
/// each response carrying the rate-limit headers.
pub fn codes(operation: &Value, code_at: &str) -> Vec<(String, Vec<String>)> {
    let responses = operation["responses"].as_object().unwrap();
    responses
        .iter()
        .filter(|(status, _)| status.starts_with(['4', '5']))
        .map(|(status, response)| {
            let media = &response["content"]["application/json"];
            let examples = media["examples"]
                .as_object()
                .unwrap_or_else(|| panic!("{status}: no examples"));
            for (code, example) in examples {
                validate(
                    &media["schema"],
                    &example["value"],
                    &format!("{status} {code}"),
                );
                assert_eq!(
                    example["value"].pointer(code_at),
                    Some(&Value::from(code.as_str())),
                    "{status}: the example's code at {code_at}"
                );
            }
            assert!(
                response["headers"]["X-RateLimit-Remaining"].is_object(),
                "{status}: rate-limit headers"
            );
            (status.clone(), examples.keys().cloned().collect())
        })
        .collect()
}

/// `codes`' expectation, written as pairs.
pub fn expect(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    pairs
        .iter()
        .map(|(status, codes)| {
            (
                (*status).to_owned(),
                codes.iter().map(|c| (*c).to_owned()).collect(),
            )
        })
        .collect()
}

/// The OpenAPI check is no formality: a response without a description,
/// an example in the wrong place, a 3.0 version are refused.
#[test]
fn the_openapi_check_refuses_broken_documents() {
    let api = rebuff::catalog::openapi::<rebuff::Rejection>();
    let good = serde_json::to_value(&api).unwrap();
    assert!(openapi_3_1_errors(&good).is_empty());
    let mut old = good.clone();
    old["openapi"] = "3.0.3".into();
    let mut undescribed = good.clone();
    let responses = undescribed["components"]["responses"]
        .as_object_mut()
        .unwrap();
    responses
        .values_mut()
        .next()
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove("description");
    let mut misplaced = good.clone();
    let response = misplaced["components"]["responses"]
        .as_object_mut()
        .unwrap()
        .values_mut()
        .next()
        .unwrap();
    response["content"]["application/json"]["examples"]["x"] =
        serde_json::json!({"valu": 1, "externalValue": 3});
    for broken in [old, undescribed, misplaced] {
        assert!(!openapi_3_1_errors(&broken).is_empty(), "{broken:#}");
    }
}

//! Several errors with one status: one response listing every code, each
//! with its own example and schema, where utoipa's own derive keeps one.

use rebuff::RejectionKind;
use rebuff::openapi::Responses;

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE")]
enum Conflict {
    /// A field is invalid.
    #[error("validation")]
    #[api(status = 400, message = "Validation failed")]
    ValidationError { field: String },
    /// The body is not the expected one.
    #[error("bad body")]
    #[api(status = 400, message = "Unexpected body")]
    UnexpectedBody,
    /// The email exists.
    #[error("duplicate")]
    #[api(status = 409, message = "Email already exists")]
    DuplicateEmail,
    /// The lead was changed meanwhile.
    #[error("stale")]
    #[api(status = 409, message = "The lead changed meanwhile")]
    StaleVersion { version: u32 },
}

fn codes(status: &str) -> Vec<String> {
    let responses = Responses::<Conflict>::new()
        .rejections(&[RejectionKind::InvalidJson])
        .build();
    let response = serde_json::to_value(&responses[status]).unwrap();
    let examples = response["content"]["application/json"]["examples"]
        .as_object()
        .unwrap();
    let description = response["description"].as_str().unwrap();
    let codes: Vec<String> = examples.keys().cloned().collect();
    for code in &codes {
        assert!(
            description.contains(&format!("`{code}`")),
            "{code} in the table:\n{description}"
        );
    }
    let problem = response["content"]["application/problem+json"]["examples"]
        .as_object()
        .unwrap();
    assert_eq!(
        problem.keys().cloned().collect::<Vec<_>>(),
        codes,
        "the same codes as problem details"
    );
    // utoipa keeps examples by name, so sorted.
    codes
}

#[test]
fn two_variants_with_one_status_are_both_documented() {
    assert_eq!(
        codes("400"),
        ["INVALID_JSON", "UNEXPECTED_BODY", "VALIDATION_ERROR"]
    );
    assert_eq!(codes("409"), ["DUPLICATE_EMAIL", "STALE_VERSION"]);
}

/// Each code's example fits its own schema and not another code's: the
/// status's schema is the choice between them.
#[test]
fn each_code_of_a_status_has_its_own_schema() {
    let docs = Responses::<Conflict>::new().problem(false).errors();
    let conflicts: Vec<_> = docs.iter().filter(|d| d.status() == 409).collect();
    assert_eq!(conflicts.len(), 2);
    for doc in &conflicts {
        for other in &conflicts {
            let example: serde_json::Value =
                serde_json::from_slice(doc.example("application/json").unwrap()).unwrap();
            let schema = serde_json::to_value(other.schema("application/json").unwrap()).unwrap();
            assert_eq!(
                jsonschema::is_valid(&schema, &example),
                doc.code() == other.code(),
                "{} against {}",
                doc.code(),
                other.code()
            );
        }
    }
    let responses = Responses::<Conflict>::new().problem(false).build();
    let response = serde_json::to_value(&responses["409"]).unwrap();
    let any_of = &response["content"]["application/json"]["schema"]["anyOf"];
    assert_eq!(any_of.as_array().map(Vec::len), Some(2), "{response:#}");
}

/// A variant that answers the router's 405 is documented with the `Allow`
/// header the framework sends with it, listed on its own or not.
#[test]
fn a_variant_answering_the_405_documents_allow() {
    use rebuff::RejectionKind;
    use rebuff::openapi::Responses;

    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    enum RouteError {
        #[error("wrong method")]
        #[api(status = 405, message = "Method not allowed here", rejection = MethodNotAllowed)]
        WrongMethod,
    }
    for responses in [
        Responses::<RouteError>::new().rejections(&[RejectionKind::MethodNotAllowed]),
        Responses::<RouteError>::none().rejections(&[RejectionKind::MethodNotAllowed]),
        // Listed as a variant only: still sent with `Allow`.
        Responses::<RouteError>::new(),
    ] {
        let built = serde_json::to_value(responses.build()).unwrap();
        assert!(
            built["405"]["headers"]["Allow"].is_object(),
            "{}",
            built["405"]["headers"]
        );
        assert!(
            built["405"]["content"]["application/json"]["examples"]["wrong_method"].is_object()
        );
    }
}

/// A code with characters OpenAPI's component names cannot hold (`/`) is
/// still a valid component name in the catalog's document.
#[test]
fn codes_with_slashes_make_valid_component_names() {
    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    enum AuthError {
        #[error("invalid email")]
        #[api(status = 400, code = "auth/invalid-email")]
        InvalidEmail,
    }
    let doc = serde_json::to_value(rebuff::catalog::openapi::<AuthError>()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(
        schemas.contains_key("AuthError.auth_invalid-email"),
        "{:?}",
        schemas.keys()
    );
    for key in schemas.keys() {
        assert!(
            key.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')),
            "{key}"
        );
    }
    let _ = AuthError::InvalidEmail;
}

/// The limiter's refusal is documented with both of its header families,
/// which it sends by default, even when every response is not.
#[test]
fn a_rate_limit_refusal_documents_both_header_families() {
    use rebuff::RejectionKind;
    use rebuff::openapi::Responses;

    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    enum LeadError {
        #[error("gone")]
        #[api(status = 410)]
        Gone,
    }
    let built = serde_json::to_value(
        Responses::<LeadError>::new()
            .rejections(&[RejectionKind::RateLimited])
            .build(),
    )
    .unwrap();
    let headers = built["429"]["headers"].as_object().unwrap();
    let names: Vec<String> = headers.keys().map(|k| k.to_ascii_lowercase()).collect();
    for name in [
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "ratelimit-policy",
        "ratelimit",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    // The other answers, without the limiter's headers asked for, have none.
    assert!(built["410"]["headers"].get("RateLimit").is_none());
    let _ = LeadError::Gone;
}

/// Errors alike in shape share one schema: the plain envelope's 429s (a
/// refusal and a block, both `{"error": ..., "retry_after": ...}`) are one
/// schema with two examples, not an `anyOf` of two copies.
#[test]
fn errors_alike_in_shape_share_one_schema() {
    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    #[api(envelope = rebuff::envelope::Plain)]
    enum PlainError {
        #[error("gone")]
        #[api(status = 410)]
        Gone,
    }
    let built = serde_json::to_value(
        Responses::<PlainError>::none()
            .rejections(&[RejectionKind::RateLimited, RejectionKind::Blocked])
            .build(),
    )
    .unwrap();
    let media = &built["429"]["content"]["application/json"];
    assert!(media["schema"].get("anyOf").is_none(), "{media:#}");
    assert_eq!(media["examples"].as_object().unwrap().len(), 2, "{media:#}");
    crate::check::examples(
        &Responses::<PlainError>::none()
            .rejections(&[RejectionKind::RateLimited, RejectionKind::Blocked])
            .build(),
    );
    let _ = PlainError::Gone;
}

/// A `Duration` delay is documented as the whole seconds sent, and a list
/// of messages as strings, whatever the fields' types; each example fits.
#[test]
fn a_delay_and_a_list_are_documented_as_sent() {
    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    #[api(envelope = rebuff::envelope::Nested)]
    enum Throttle {
        #[error("slow")]
        #[api(status = 429, message = "Slow down")]
        Slow {
            #[api(retry_after, example = std::time::Duration::from_millis(1500))]
            retry_after: std::time::Duration,
            #[api(errors, example = None)]
            errors: Option<Vec<String>>,
        },
    }
    let built = Responses::<Throttle>::new().build();
    let examples = crate::check::examples(&built);
    let (_, _, _, example) = &examples[0];
    assert_eq!(example["error"]["details"]["retry_after"], 2, "{example}");
    assert_eq!(example["error"]["details"]["errors"], serde_json::json!([]));
    let doc = serde_json::to_value(&built).unwrap();
    let details = &doc["429"]["content"]["application/json"]["schema"]["properties"]["error"]["properties"]
        ["details"]["properties"];
    assert_eq!(details["retry_after"]["type"], "integer", "{details:#}");
    assert_eq!(details["errors"]["type"], "array", "{details:#}");
    let _ = Throttle::Slow {
        retry_after: std::time::Duration::ZERO,
        errors: None,
    };
}

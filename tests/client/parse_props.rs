//! `RemoteError::parse` against arbitrary and hostile input: never a panic,
//! bounded memory; and random errors of a derived type survive render,
//! parse and decode unchanged in every envelope that carries a code.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rebuff::client::{FromRemote, RemoteError};
use rebuff::envelope::{Envelope, Flat, Nested, Problem, Success};
use rebuff::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use rebuff::{ApiError, Context, RateLimit};

const HEADER_NAMES: &[&str] = &[
    "retry-after",
    "ratelimit",
    "ratelimit-policy",
    "x-rate-limit-reset",
    "x-amzn-errortype",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-reset-after",
    "ratelimit-reset",
    "date",
    "content-type",
    "x-request-id",
    "request-id",
    "cf-ray",
    "retry-after-ms",
    "www-authenticate",
    "x-dropbox-request-id",
];

fn headers() -> impl Strategy<Value = HeaderMap> {
    prop::collection::vec(
        (
            prop::sample::select(HEADER_NAMES),
            prop::collection::vec(32u8..127, 0..40),
        ),
        0..6,
    )
    .prop_map(|pairs| {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                map.append(HeaderName::from_static(name), value);
            }
        }
        map
    })
}

/// Bytes that look like error bodies often enough to reach every branch.
fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let fragments = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"error\"",
        "\"errors\"",
        "\"message\"",
        "\"code\"",
        "\"detail\"",
        "\"title\"",
        "\"type\"",
        "\"__type\"",
        "\"details\"",
        "\"retry_after\"",
        "\"success\"",
        "false",
        "null",
        "1.5",
        "-3",
        "1e999",
        "\"x\"",
        "\"\\u0000\"",
        "<html>",
        "<title>",
        "</title>",
        "<h1>",
        "<?xml",
        "<Code>",
        "</Code>",
        "<Error>",
        "<Response>",
        "<Message>",
        "</Message>",
        "RequestId:",
        "<pre>",
        "\"retryDelay\"",
        "\"30s\"",
        "\n",
        " ",
        "é",
        "\u{fffd}",
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        prop::collection::vec(fragments, 0..64).prop_map(|parts| parts.concat().into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics(
        status in 100u16..1000,
        headers in headers(),
        content_type in prop::sample::select(vec![
            "", "application/json", "application/problem+json", "application/xml",
            "text/xml", "text/html", "text/plain",
        ]),
        body in bodies(),
    ) {
        let status = StatusCode::from_u16(status).unwrap();
        let mut headers = headers;
        if !content_type.is_empty() {
            headers.insert("content-type", HeaderValue::from_static(content_type));
        }
        let err = RemoteError::parse(status, &headers, &body);
        prop_assert_eq!(err.status(), status);
        prop_assert!(err.body().len() <= 4096);
        prop_assert!(err.code().is_none_or(|c| c.len() <= 1024));
        prop_assert!(err.request_id().is_none_or(|c| c.len() <= 1024));
        prop_assert!(!err.message().is_empty() || status.canonical_reason().is_none());
        let _ = err.to_string();
        let _ = rebuff::to_vec(&err, &Context::new());
    }
}

/// Any JSON value, a few levels deep, with the keys error bodies use.
fn json_values() -> impl Strategy<Value = serde_json::Value> {
    const KEYS: &[&str] = &[
        "error",
        "errors",
        "message",
        "msg",
        "code",
        "errorCode",
        "status",
        "type",
        "reason",
        "detail",
        "details",
        "title",
        "description",
        "error_description",
        "request_id",
        "traceId",
        "retry_after",
        "retryDelay",
        "parameters",
        "innerError",
        "@type",
        "issue",
        "extensions",
        "_errors",
        "name",
        "id",
        "category",
        "error_codes",
        "errorMessages",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "30s",
            "1.500s",
            "-1s",
            "1e999",
            "NaN",
            "invalid_grant",
            "Not Found",
            "https://x/y",
            "about:blank",
            "",
            " ",
            "RESOURCE_EXHAUSTED",
            "\u{0}",
        ])
        .prop_map(serde_json::Value::from),
        "\\PC{0,40}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|pairs| {
                serde_json::Value::Object(
                    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
                )
            }),
        ]
    })
}

/// A value nested where each shape of error body reads one.
fn shaped(shape: usize, v: serde_json::Value) -> serde_json::Value {
    use serde_json::json;
    match shape {
        0 => json!({ "error": v }),
        1 => json!({ "error": { "code": v.clone(), "message": v.clone(), "details": v } }),
        2 => json!({ "errors": [v.clone(), v] }),
        3 => json!({ "errors": v }),
        4 => json!({ "detail": v }),
        5 => json!({ "message": v.clone(), "errors": v }),
        6 => json!([v]),
        7 => json!({ "error": "invalid_grant", "error_description": v }),
        8 => json!({ "type": v.clone(), "title": v.clone(), "status": v.clone(), "detail": v }),
        9 => {
            json!({ "error": { "status": v.clone(), "details": [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": v }] } })
        }
        10 => json!({ "ok": false, "description": v.clone(), "parameters": { "retry_after": v } }),
        11 => json!({ "__type": v.clone(), "message": v }),
        12 => {
            json!({ "reason": v.clone(), "category": v.clone(), "errorCode": v.clone(), "id": v.clone(), "name": v })
        }
        13 => json!({ "error": { "message": v.clone(), "innerError": v } }),
        _ => v,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    /// Arbitrary JSON inside every shape: no panic, and nothing kept
    /// grows past its bound or past the body.
    #[test]
    fn arbitrary_json_in_every_shape(
        status in 100u16..1000,
        shape in 0usize..16,
        value in json_values(),
        problem in any::<bool>(),
    ) {
        let status = StatusCode::from_u16(status).unwrap();
        let body = serde_json::to_vec(&shaped(shape, value)).unwrap();
        let mut headers = HeaderMap::new();
        if problem {
            headers.insert("content-type", HeaderValue::from_static("application/problem+json"));
        }
        let err = RemoteError::parse(status, &headers, &body);
        prop_assert_eq!(err.status(), status);
        prop_assert!(err.body().len() <= 4096);
        prop_assert!(err.code().is_none_or(|c| c.len() <= 1024));
        prop_assert!(err.message().len() <= 1024.max(body.len()));
        prop_assert!(err.request_id().is_none_or(|c| c.len() <= 1024));
        prop_assert!(err.errors().len() <= 64);
        let kept: usize = err.errors().iter().map(String::len).sum();
        prop_assert!(kept <= body.len() * 2, "{} bytes of errors from {} of body", kept, body.len());
        let _ = err.to_string();
        let _ = rebuff::to_vec(&err, &Context::new());
    }
}

#[test]
fn huge_and_deeply_nested_bodies_are_bounded() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("100 MB of text", vec![b'a'; 100 * 1024 * 1024]),
        ("100 MB JSON string", {
            let mut body = br#"{"message":""#.to_vec();
            body.resize(100 * 1024 * 1024, b'x');
            body.extend_from_slice(br#""}"#);
            body
        }),
        ("100,000 nested arrays", "[".repeat(100_000).into_bytes()),
        (
            "100,000 nested objects",
            r#"{"error":"#.repeat(100_000).into_bytes(),
        ),
        ("100,000 nested errors, closed", {
            let mut body = r#"{"error":"#.repeat(100_000);
            body.push('1');
            body.push_str(&"}".repeat(100_000));
            body.into_bytes()
        }),
        (
            "100,000 nested HTML tags",
            "<html><b>".repeat(100_000).into_bytes(),
        ),
        ("30,000 nested arrays, closed", {
            let mut body = "[".repeat(30_000);
            body.push_str("{}");
            body.push_str(&"]".repeat(30_000));
            body.into_bytes()
        }),
    ];
    for (name, body) in cases {
        let started = Instant::now();
        let err = RemoteError::parse(StatusCode::BAD_GATEWAY, &HeaderMap::new(), &body);
        assert!(err.body().len() <= 4096, "{name}");
        assert!(err.body_truncated(), "{name}");
        assert!(err.message().len() <= 1024, "{name}");
        // Not a timing assertion: a sanity bound far above any machine's
        // speed, which only catches quadratic blow-ups.
        assert!(started.elapsed() < Duration::from_secs(60), "{name}");
    }
}

/// An error in a list (GraphQL's `errors`, a batch API's), or in a list of
/// lists, is read; deeper nesting is no error's shape.
#[test]
fn an_error_in_a_list_is_read() {
    for body in [
        r#"[{"error":{"code":"quota","message":"Out of quota"}}]"#,
        r#"[[{"error":{"code":"quota","message":"Out of quota"}}]]"#,
    ] {
        let err = RemoteError::parse(StatusCode::FORBIDDEN, &HeaderMap::new(), body.as_bytes());
        assert_eq!(err.code(), Some("quota"), "{body}");
        assert_eq!(err.message(), "Out of quota", "{body}");
    }
    let deep = r#"[[[{"error":{"code":"quota","message":"Out of quota"}}]]]"#;
    let err = RemoteError::parse(StatusCode::FORBIDDEN, &HeaderMap::new(), deep.as_bytes());
    assert_eq!(err.code(), None, "{deep}");
}

#[derive(Debug, Clone, PartialEq, thiserror::Error, ApiError)]
#[api(
    decode,
    code_case = "SCREAMING_SNAKE_CASE",
    rename_all = "camelCase",
    type_base = "https://errors.example.com/"
)]
enum Lead {
    #[error("validation")]
    #[api(status = 400, message = "Validation failed on {field}")]
    Validation {
        field: String,
        value: String,
        hint: Option<String>,
    },
    // `NOT_FOUND` is the server's code for unknown routes.
    #[error("not found")]
    #[api(status = 404, code = "LEAD_NOT_FOUND")]
    NotFound { lead_id: String, attempts: u32 },
    #[error("conflict")]
    #[api(status = CONFLICT, message = "Email already exists")]
    Duplicate {
        email: String,
        existing_lead_id: String,
        tags: Vec<String>,
    },
    #[error("limited")]
    #[api(status = 429, message = "Slow down")]
    Limited {
        #[api(retry_after)]
        retry_after: u64,
        #[api(rate_limit)]
        limits: RateLimit,
        scope: String,
    },
    #[error("gone")]
    #[api(status = 410, code = "lead.gone")]
    Gone,
    #[error("flat")]
    #[api(status = 422, message = "Invalid")]
    Invalid {
        #[api(flatten)]
        fields: BTreeMap<String, String>,
    },
    #[error("down")]
    #[api(status = 503)]
    Down {
        #[api(expose)]
        region: String,
        #[api(retry_after, skip)]
        wait: u32,
    },
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,24}"
}

fn leads() -> impl Strategy<Value = Lead> {
    prop_oneof![
        (text(), text(), prop::option::of(text()))
            .prop_map(|(field, value, hint)| Lead::Validation { field, value, hint }),
        (text(), any::<u32>()).prop_map(|(lead_id, attempts)| Lead::NotFound { lead_id, attempts }),
        (text(), text(), prop::collection::vec(text(), 0..4)).prop_map(
            |(email, existing_lead_id, tags)| Lead::Duplicate {
                email,
                existing_lead_id,
                tags
            }
        ),
        (
            0u64..1_000_000,
            any::<u32>(),
            any::<u32>(),
            1_000_000_000u64..4_000_000_000,
            text()
        )
            .prop_map(
                |(retry_after, limit, remaining, reset, scope)| Lead::Limited {
                    retry_after,
                    limits: RateLimit {
                        limit: limit.into(),
                        remaining: remaining.into(),
                        reset
                    },
                    scope,
                }
            ),
        Just(Lead::Gone),
        // Flattened keys must not collide with the envelope's own members.
        prop::collection::btree_map("[a-z]{1,8}_f", text(), 0..4)
            .prop_map(|fields| Lead::Invalid { fields }),
        (text(), 0u32..100_000).prop_map(|(region, wait)| Lead::Down { region, wait }),
    ]
}

fn round_trip<V: Envelope>(err: &Lead, ctx: &Context) -> Option<Lead> {
    let response = V::to_response(err, ctx);
    let remote = RemoteError::parse(response.status(), response.headers(), response.body());
    Lead::from_remote(&remote)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn render_parse_decode_is_lossless(err in leads(), id in "[a-zA-Z0-9_]{1,20}") {
        let ctx = Context::new().request_id(id).now().instance("/api/v1/leads");
        prop_assert_eq!(round_trip::<Nested>(&err, &ctx), Some(err.clone()), "Nested");
        prop_assert_eq!(round_trip::<Success>(&err, &ctx), Some(err.clone()), "Success");
        prop_assert_eq!(round_trip::<Flat>(&err, &ctx), Some(err.clone()), "Flat");
        prop_assert_eq!(round_trip::<Problem>(&err, &ctx), Some(err.clone()), "Problem");
    }
}

/// Seed 002's format carries no code or details: a client can still tell
/// apart the variants whose message is fixed, by status and message.
#[derive(Debug, Clone, PartialEq, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Plain, decode)]
enum Recording {
    #[error("unauthorized")]
    #[api(status = 401, message = "Invalid or expired API key")]
    Unauthorized,
    #[error("read")]
    #[api(status = 403, message = "Read permission required")]
    ReadPermission,
    /// Also what the server answers for unknown routes.
    #[error("not found")]
    #[api(status = 404, message = "Resource not found", rejection = NotFound)]
    NotFound,
    #[error("limited")]
    #[api(status = 429, message = "Rate limit exceeded")]
    RateLimited {
        #[api(retry_after)]
        retry_after: u32,
    },
}

fn recordings() -> impl Strategy<Value = Recording> {
    prop_oneof![
        Just(Recording::Unauthorized),
        Just(Recording::ReadPermission),
        Just(Recording::NotFound),
        (0u32..100_000).prop_map(|retry_after| Recording::RateLimited { retry_after }),
    ]
}

proptest! {
    #[test]
    fn plain_round_trips_fixed_messages(err in recordings()) {
        let response = rebuff::envelope::Plain::to_response(&err, &Context::new().request_id("req_p"));
        let remote = RemoteError::parse(response.status(), response.headers(), response.body());
        prop_assert_eq!(Recording::from_remote(&remote), Some(err));
    }
}

/// Strings are kept as slices of the body copy when they can be; the ones
/// that cannot (escaped, past the kept 4 KiB, from a header) still read
/// back whole, and equality looks at what the accessors show.
#[test]
fn strings_read_back_wherever_they_were_found() {
    let padding = "x".repeat(5000);
    let body = format!(
        r#"{{"error":{{"details":{{"pad":"{padding}"}},"code":"late_code","message":"  said \"late\"\n","request_id":"req_late"}}}}"#
    );
    let err = RemoteError::parse(StatusCode::BAD_REQUEST, &HeaderMap::new(), body.as_bytes());
    assert_eq!(err.code(), Some("late_code"));
    assert_eq!(err.message(), "said \"late\"");
    assert_eq!(err.request_id(), Some("req_late"));
    assert!(err.body_truncated());
    assert_eq!(err.body().len(), 4096);
    assert_eq!(
        err.details().unwrap()["pad"].as_str().map(str::len),
        Some(5000)
    );
    assert_eq!(err.clone(), err);

    let mut headers = HeaderMap::new();
    headers.insert("x-request-id", HeaderValue::from_static("req_from_header"));
    let short = br#"{"error":{"code":"early","message":"in the kept body"}}"#;
    let early = RemoteError::parse(StatusCode::BAD_REQUEST, &headers, short);
    assert_eq!(early.code(), Some("early"));
    assert_eq!(early.message(), "in the kept body");
    assert_eq!(early.request_id(), Some("req_from_header"));
    assert!(early.to_string().contains("(request id req_from_header)"));
    let again = RemoteError::parse(StatusCode::BAD_REQUEST, &headers, short);
    assert_eq!(again, early);
    // Keys with escapes are read as well as plain ones.
    let escaped = br#"{"error":{"co\u0064e":"escaped_key","message":"m"}}"#;
    let err = RemoteError::parse(StatusCode::BAD_REQUEST, &HeaderMap::new(), escaped);
    assert_eq!(err.code(), Some("escaped_key"));

    assert_ne!(
        early.clone().with_request_id("other"),
        early,
        "a different request id makes a different error"
    );
}

/// A body's own retry-after, in every form it comes in: read where it is
/// found, never failing the parse, the first of a repeated key winning.
#[test]
fn body_retry_after_in_every_form() {
    let secs = |s: f64| Some(std::time::Duration::from_secs_f64(s));
    let cases: &[(&str, Option<std::time::Duration>)] = &[
        (r#"{"error":"slow down","retry_after":60}"#, secs(60.0)),
        (r#"{"error":"slow down","retry_after":"60"}"#, secs(60.0)),
        (r#"{"error":"slow down","retry_after":1.5}"#, secs(1.5)),
        (r#"{"error":"slow down","retry_after":"1.5"}"#, secs(1.5)),
        (r#"{"error":"slow down","retry_after":"\u0036"}"#, secs(6.0)),
        (r#"{"error":"slow down","retryAfter":7}"#, secs(7.0)),
        (
            r#"{"error":"slow down","retry_after":3,"retry_after":9}"#,
            secs(3.0),
        ),
        (
            r#"{"error":"slow down","retry_after":"soon","retry_after":9}"#,
            None,
        ),
        (r#"{"error":"slow down","retry_after":-5}"#, None),
        (r#"{"error":"slow down","retry_after":null}"#, None),
        (r#"{"error":"slow down","retry_after":true}"#, None),
        (r#"{"error":"slow down","retry_after":[1,2]}"#, None),
        (r#"{"error":"slow down","retry_after":{"s":1}}"#, None),
        (r#"{"error":"slow down","retry_after":1e400}"#, None),
        (
            r#"{"error":"slow down","retry_after":99999999999999999999999}"#,
            None,
        ),
        (
            r#"{"error":{"code":"x","message":"slow down","retry_after":4}}"#,
            secs(4.0),
        ),
        (
            r#"{"error":{"code":"x","message":"slow down","retry_after":1e999}}"#,
            None,
        ),
    ];
    for (body, expected) in cases {
        let err = RemoteError::parse(StatusCode::BAD_REQUEST, &HeaderMap::new(), body.as_bytes());
        assert_eq!(err.retry_after(), *expected, "{body}");
        // The rest of the body is read whatever the hint was.
        assert_eq!(err.message(), "slow down", "{body}");
        assert_ne!(err.format(), rebuff::client::Format::Json, "{body}");
    }
}

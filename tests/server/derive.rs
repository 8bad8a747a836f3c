//! `#[derive(ApiError)]` attribute by attribute, as a user would write it:
//! derive, render, compare bytes.

use std::collections::BTreeMap;
use std::time::Duration;

use rebuff::envelope::{Envelope, Flat, Nested, Plain, Problem, Success};
use rebuff::{ApiError, Context, RateLimit};

fn render<E: ApiError>(err: &E) -> String {
    if let Some(fixed) = err.message_str() {
        assert_eq!(
            fixed,
            err.message().to_string(),
            "message_str agrees with fmt_message"
        );
    }
    String::from_utf8(rebuff::to_vec(err, &Context::new())).unwrap()
}

fn render_as<V: Envelope, E: ApiError>(err: &E, ctx: &Context) -> String {
    String::from_utf8(V::to_vec(err, ctx)).unwrap()
}

#[derive(Debug, thiserror::Error, ApiError)]
enum Internal {
    #[error("database unreachable at {host}: {source}")]
    #[api(status = 500)]
    Database {
        host: String,
        source: std::io::Error,
    },
    #[error("upstream said {0}")]
    #[api(status = BAD_GATEWAY)]
    Upstream(String),
    #[error("maintenance until {until}")]
    #[api(status = 503, message = "Down for maintenance")]
    Maintenance {
        #[api(expose)]
        until: &'static str,
        #[api(retry_after)]
        retry_after: Duration,
        operator_note: &'static str,
    },
    #[error("exposed tuple")]
    #[api(status = 500)]
    Job(#[api(expose, rename = "job_id")] u32, String),
}

/// 5xx errors with a list of messages.
#[derive(Debug, thiserror::Error, ApiError)]
enum Batches {
    #[error("batch failed: {failures:?}")]
    #[api(status = 500)]
    Batch {
        #[api(errors)]
        failures: Vec<String>,
    },
    #[error("import failed: {failures:?}")]
    #[api(status = 502, message = "Import failed")]
    Import {
        #[api(errors, expose)]
        failures: Vec<&'static str>,
    },
}

#[test]
fn server_errors_leak_nothing_but_what_is_exposed() {
    let err = Internal::Database {
        host: "10.0.0.7".into(),
        source: std::io::Error::other("password authentication failed for user admin"),
    };
    assert_eq!(
        render(&err),
        r#"{"error":{"code":"database","message":"Internal Server Error"}}"#
    );
    let response = rebuff::to_response(&err, &Context::new().request_id("req_1"));
    for (name, value) in response.headers() {
        let value = value.to_str().unwrap();
        assert!(
            !value.contains("10.0.0.7") && !value.contains("password"),
            "{name}: {value}"
        );
    }
    let body = String::from_utf8(response.body().to_vec()).unwrap();
    assert!(!body.contains("10.0.0.7") && !body.contains("password"));
    for envelope_body in [
        render_as::<Success, _>(&err, &Context::new()),
        render_as::<Flat, _>(&err, &Context::new()),
        render_as::<Plain, _>(&err, &Context::new()),
        render_as::<Problem, _>(&err, &Context::new()),
    ] {
        assert!(!envelope_body.contains("10.0.0.7"), "{envelope_body}");
        assert!(!envelope_body.contains("password"), "{envelope_body}");
    }

    assert_eq!(
        render(&Internal::Upstream("secret upstream body".into())),
        r#"{"error":{"code":"upstream","message":"Bad Gateway"}}"#
    );
    assert_eq!(
        render(&Internal::Maintenance {
            until: "2025-01-01T13:00:00Z",
            retry_after: Duration::from_millis(1500),
            operator_note: "db migration",
        }),
        r#"{"error":{"code":"maintenance","message":"Down for maintenance","details":{"until":"2025-01-01T13:00:00Z"}}}"#
    );
    assert_eq!(
        render(&Internal::Job(7, "stack trace".into())),
        r#"{"error":{"code":"job","message":"Internal Server Error","details":{"job_id":7}}}"#
    );
    // A 5xx's list of messages is hidden as its details are, in every
    // envelope (the plain one renders it beside the message).
    let batch = Batches::Batch {
        failures: vec!["db 10.0.0.7: password authentication failed".into()],
    };
    assert!(!batch.has_errors());
    for envelope_body in [
        render_as::<Nested, _>(&batch, &Context::new()),
        render_as::<Success, _>(&batch, &Context::new()),
        render_as::<Flat, _>(&batch, &Context::new()),
        render_as::<Plain, _>(&batch, &Context::new()),
        render_as::<Problem, _>(&batch, &Context::new()),
    ] {
        assert!(!envelope_body.contains("10.0.0.7"), "{envelope_body}");
        assert!(!envelope_body.contains("errors"), "{envelope_body}");
    }
    assert_eq!(
        render_as::<Plain, _>(&batch, &Context::new()),
        r#"{"error":"Internal Server Error"}"#
    );
    // Exposed, it is shown.
    let import = Batches::Import {
        failures: vec!["row 3: bad date"],
    };
    assert_eq!(
        render_as::<Plain, _>(&import, &Context::new()),
        r#"{"errors":["row 3: bad date"]}"#
    );
    assert_eq!(
        render(&import),
        r#"{"error":{"code":"import","message":"Import failed","details":{"errors":["row 3: bad date"]}}}"#
    );
}

#[test]
fn retry_after_is_whole_seconds_rounded_up() {
    let err = Internal::Maintenance {
        until: "soon",
        retry_after: Duration::from_millis(1500),
        operator_note: "",
    };
    assert_eq!(err.retry_after(), Some(Duration::from_millis(1500)));
    let response = rebuff::to_response(&err, &Context::new());
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(
        render_as::<Plain, _>(&err, &Context::new()),
        r#"{"error":"Down for maintenance","retry_after":2}"#
    );
}

/// A delay and a list of messages take one shape in every envelope,
/// whatever the field's type: the delay in whole seconds as `Retry-After`
/// sends it (a `Duration` is not serde's `{"secs":..,"nanos":..}`, a
/// negative count is now), the list as strings (none is an empty one).
#[derive(Debug, thiserror::Error, ApiError)]
enum Throttle {
    #[error("slow down")]
    #[api(status = 429, message = "Slow down")]
    Slow {
        #[api(retry_after)]
        retry_after: Duration,
    },
    #[error("behind")]
    #[api(status = 429, message = "Behind")]
    Behind {
        #[api(retry_after)]
        wait: i64,
        #[api(errors)]
        errors: Option<Vec<String>>,
    },
    #[error("listed")]
    #[api(status = 400, message = "Listed")]
    Listed {
        #[api(errors)]
        errors: [&'static str; 2],
    },
}

#[test]
fn a_delay_and_a_list_have_one_shape_whatever_their_type() {
    let slow = Throttle::Slow {
        retry_after: Duration::from_millis(1500),
    };
    assert_eq!(
        render_as::<Nested, _>(&slow, &Context::new()),
        r#"{"error":{"code":"slow","message":"Slow down","details":{"retry_after":2}}}"#
    );
    let problem = render_as::<Problem, _>(&slow, &Context::new());
    assert!(problem.contains(r#""retry_after":2"#), "{problem}");
    let response = rebuff::to_response(&slow, &Context::new());
    assert_eq!(response.headers()["retry-after"], "2");

    let behind = Throttle::Behind {
        wait: -5,
        errors: None,
    };
    assert_eq!(
        render_as::<Nested, _>(&behind, &Context::new()),
        r#"{"error":{"code":"behind","message":"Behind","details":{"wait":0,"errors":[]}}}"#
    );
    assert_eq!(
        render_as::<Plain, _>(&behind, &Context::new()),
        r#"{"errors":[]}"#
    );
    let listed = Throttle::Listed {
        errors: ["row 1", "row 2"],
    };
    assert_eq!(
        render_as::<Plain, _>(&listed, &Context::new()),
        r#"{"errors":["row 1","row 2"]}"#
    );
}

/// A 4xx whose `Display` is a function of its own (thiserror's `fmt`) is
/// not read for its cause; a code with braces is no format string to the
/// checks of a transparent variant beside it.
#[derive(Debug, thiserror::Error, ApiError)]
enum Formatted {
    #[error(fmt = shown)]
    #[api(status = 400)]
    Shown(#[source] std::io::Error),
    #[error("braced")]
    #[api(status = 409, code = "lead{version}", message = "Braced")]
    Braced,
    #[error(transparent)]
    #[api(transparent)]
    Held(Throttle),
}

fn shown(_: &std::io::Error, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("the upload could not be read")
}

#[test]
fn a_display_of_its_own_and_a_braced_code_derive() {
    let err = Formatted::Shown(std::io::Error::other("disk"));
    assert_eq!(err.message().to_string(), "the upload could not be read");
    assert_eq!(Formatted::Braced.code(), "lead{version}");
}

#[derive(Debug, thiserror::Error, ApiError)]
#[api(rename_all = "camelCase", code_case = "kebab-case")]
enum Shapes {
    #[error("renamed")]
    #[api(status = 400, message = "Renamed")]
    Renamed {
        #[api(rename = "the_id")]
        lead_id: u32,
        file_size_mb: u32,
        #[api(skip)]
        internal: u32,
        r#type: &'static str,
    },
    #[error("flattened")]
    #[api(status = 413, message = "Too large")]
    Flattened {
        kind: &'static str,
        #[api(flatten)]
        sizes: Sizes,
        #[api(flatten)]
        extra: BTreeMap<&'static str, u32>,
    },
    #[error("tuple {0}")]
    #[api(status = 404, message = "No lead {0}")]
    Tuple(String),
    #[error("plain text {0}")]
    #[api(status = 404)]
    DisplayFallback(u32),
    #[error("debug")]
    #[api(
        status = 400,
        message = "Bad fields {fields:?}, padded [{name:>width$}]"
    )]
    Formatting {
        fields: Vec<&'static str>,
        name: &'static str,
        #[api(skip)]
        width: usize,
    },
    #[error("not retried")]
    #[api(status = 503, retryable = false)]
    NeverRetry,
    #[error("retried")]
    #[api(status = 409, retryable)]
    AlwaysRetry,
}

#[derive(Debug, Default, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct Sizes {
    file_size_mb: u32,
    max_size_mb: u32,
}

#[test]
fn details_keys_follow_rename_skip_and_flatten() {
    assert_eq!(
        render(&Shapes::Renamed {
            lead_id: 1,
            file_size_mb: 2,
            internal: 3,
            r#type: "audio"
        }),
        r#"{"error":{"code":"renamed","message":"Renamed","details":{"the_id":1,"fileSizeMb":2,"type":"audio"}}}"#
    );
    assert_eq!(
        render(&Shapes::Flattened {
            kind: "audio",
            sizes: Sizes {
                file_size_mb: 150,
                max_size_mb: 100
            },
            extra: [("a", 1)].into(),
        }),
        r#"{"error":{"code":"flattened","message":"Too large","details":{"kind":"audio","file_size_mb":150,"max_size_mb":100,"a":1}}}"#
    );
}

/// A generic field shown with a format spec of another trait (`{sum:08x}`)
/// needs that trait of its type, not `Display`.
#[test]
fn a_generic_field_is_bound_by_the_trait_its_spec_formats_with() {
    #[derive(Debug)]
    struct Checksum(u32);

    impl core::fmt::LowerHex for Checksum {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            core::fmt::LowerHex::fmt(&self.0, f)
        }
    }

    #[derive(Debug, thiserror::Error, ApiError)]
    #[error("bad checksum")]
    #[api(status = 400, message = "bad checksum {sum:08x}")]
    struct BadChecksum<T: core::fmt::Debug + 'static> {
        #[api(skip)]
        sum: T,
    }

    let err = BadChecksum {
        sum: Checksum(0xbeef),
    };
    assert_eq!(err.message().to_string(), "bad checksum 0000beef");
}

#[test]
fn messages_interpolate_format_and_fall_back_to_display() {
    let tuple = Shapes::Tuple("lead_9".into());
    assert_eq!(tuple.message().to_string(), "No lead lead_9");
    // An unnamed field without `rename` has no key, so no details.
    assert_eq!(
        render(&tuple),
        r#"{"error":{"code":"tuple","message":"No lead lead_9"}}"#
    );
    assert_eq!(
        Shapes::DisplayFallback(3).message().to_string(),
        "plain text 3"
    );
    assert_eq!(
        Shapes::Formatting {
            fields: vec!["a"],
            name: "x",
            width: 3
        }
        .message()
        .to_string(),
        r#"Bad fields ["a"], padded [  x]"#
    );
    assert_eq!(
        format!("{:?}", Shapes::DisplayFallback(3).message()),
        r#""plain text 3""#
    );
}

#[test]
fn codes_follow_code_case_and_retry_follows_overrides() {
    assert_eq!(Shapes::DisplayFallback(1).code(), "display-fallback");
    assert!(!Shapes::NeverRetry.retryable());
    assert!(Shapes::AlwaysRetry.retryable());
    assert!(!Shapes::Tuple(String::new()).retryable());
}

#[derive(Debug, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Success)]
enum Outer {
    #[error(transparent)]
    #[api(transparent)]
    Shapes(Shapes),
    #[error(transparent)]
    #[api(transparent)]
    Named { inner: Internal },
    #[error("own")]
    #[api(status = 418, message = "Short and stout")]
    Own,
}

#[test]
fn transparent_variants_delegate_everything() {
    let outer = Outer::Shapes(Shapes::Tuple("x".into()));
    assert_eq!(outer.status(), 404);
    assert_eq!(outer.code(), "tuple");
    assert_eq!(outer.message().to_string(), "No lead x");
    let ctx = Context::new().request_id("req_1");
    let flattened = Outer::Shapes(Shapes::Flattened {
        kind: "k",
        sizes: Sizes {
            file_size_mb: 1,
            max_size_mb: 2,
        },
        extra: BTreeMap::new(),
    });
    assert_eq!(
        String::from_utf8(rebuff::to_vec(&flattened, &ctx)).unwrap(),
        r#"{"success":false,"error":{"code":"flattened","message":"Too large","details":{"kind":"k","file_size_mb":1,"max_size_mb":2}},"request_id":"req_1"}"#
    );
    let retry = Outer::Named {
        inner: Internal::Maintenance {
            until: "u",
            retry_after: Duration::from_secs(9),
            operator_note: "",
        },
    };
    assert_eq!(retry.retry_after(), Some(Duration::from_secs(9)));
    assert!(retry.retryable());
    assert_eq!(Outer::Own.status(), 418);
    // The catalog inlines the delegated types' entries.
    let codes: Vec<&str> = rebuff::catalog::entries::<Outer>()
        .iter()
        .map(|e| e.code)
        .collect();
    assert_eq!(
        codes,
        [
            "renamed",
            "flattened",
            "tuple",
            "display-fallback",
            "formatting",
            "never-retry",
            "always-retry",
            "database",
            "upstream",
            "maintenance",
            "job",
            "own"
        ]
    );
}

#[derive(Debug, thiserror::Error, ApiError)]
#[api(status = 429, code = "slow_down", message = "Slow down, {who}")]
#[error("rate limited")]
struct RateLimited<'a, T: std::fmt::Display> {
    who: T,
    scope: &'a str,
    #[api(retry_after)]
    retry_after: Option<u64>,
    #[api(rate_limit)]
    limits: Option<RateLimit>,
}

#[test]
fn structs_with_generics_lifetimes_and_optional_roles() {
    let scope = String::from("leads");
    let err = RateLimited {
        who: 42u8,
        scope: &scope,
        retry_after: None,
        limits: None,
    };
    assert_eq!(
        render(&err),
        r#"{"error":{"code":"slow_down","message":"Slow down, 42","details":{"who":42,"scope":"leads","retry_after":null}}}"#
    );
    let response = rebuff::to_response(&err, &Context::new());
    assert!(response.headers().get("retry-after").is_none());
    assert!(response.headers().get("x-ratelimit-limit").is_none());

    let err = RateLimited {
        who: "you",
        scope: "leads",
        retry_after: Some(5),
        limits: Some(RateLimit {
            limit: 300,
            remaining: 0,
            reset: 1_706_140_800,
        }),
    };
    let response = rebuff::to_response(&err, &Context::new());
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(response.headers()["x-ratelimit-limit"], "300");
    assert_eq!(response.headers()["x-ratelimit-reset"], "1706140800");
}

#[derive(Debug, thiserror::Error, ApiError)]
#[api(
    type_base = "https://api.example.com/errors",
    code_case = "SCREAMING_SNAKE_CASE"
)]
enum WithProblem {
    #[error("conflict")]
    #[api(status = 409, message = "Email already exists")]
    DuplicateEmail {
        email: &'static str,
        // Would shadow RFC 9457's own member: left out of the problem.
        status: &'static str,
    },
}

#[test]
fn problem_details_with_type_base_and_instance() {
    let err = WithProblem::DuplicateEmail {
        email: "a@b.c",
        status: "shadow",
    };
    let ctx = Context::new().request_id("req_9").instance("/api/v1/leads");
    let response = Problem::to_response(&err, &ctx);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.headers()["x-request-id"], "req_9");
    assert_eq!(
        std::str::from_utf8(response.body()).unwrap(),
        r#"{"type":"https://api.example.com/errors/DUPLICATE_EMAIL","title":"Conflict","status":409,"detail":"Email already exists","instance":"/api/v1/leads","code":"DUPLICATE_EMAIL","request_id":"req_9","email":"a@b.c"}"#
    );
}

#[test]
fn an_unsafe_request_id_is_not_sent_as_a_header() {
    let ctx = Context::new().request_id("req_1\r\nSet-Cookie: x=1");
    let response = rebuff::to_response(&Shapes::NeverRetry, &ctx);
    assert!(response.headers().get("x-request-id").is_none());
    // The body escapes it as JSON.
    assert!(
        std::str::from_utf8(response.body())
            .unwrap()
            .contains(r"req_1\r\nSet-Cookie: x=1")
    );
}

/// A detail whose serialization fails, as a map with non-string keys does.
#[derive(Debug, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Flat)]
enum Unserializable {
    #[error("bad keys")]
    #[api(status = 422, message = "Invalid {what}")]
    BadKeys {
        what: &'static str,
        by_pair: BTreeMap<(u8, u8), u8>,
    },
}

#[test]
fn a_detail_that_fails_to_serialize_still_yields_a_valid_envelope() {
    let err = Unserializable::BadKeys {
        what: "pairs",
        by_pair: [((1, 2), 3)].into(),
    };
    let ctx = Context::new().request_id("req_2");
    let body = rebuff::to_vec(&err, &ctx);
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        r#"{"success":false,"error":"Unprocessable Entity","code":"bad_keys","requestId":"req_2"}"#
    );
    // Appending keeps what was in the buffer before.
    let mut out = b"prefix:".to_vec();
    rebuff::write_into(&err, &ctx, &mut out);
    assert!(out.starts_with(b"prefix:{\"success\":false"));
    let json: serde_json::Value = serde_json::from_slice(&out[7..]).unwrap();
    assert_eq!(json["code"], "bad_keys");
}

#[test]
fn every_envelope_omits_what_the_context_lacks() {
    let err = Shapes::AlwaysRetry;
    assert_eq!(
        render_as::<Nested, _>(&err, &Context::new()),
        r#"{"error":{"code":"always-retry","message":"retried"}}"#
    );
    assert_eq!(
        render_as::<Success, _>(&err, &Context::new()),
        r#"{"success":false,"error":{"code":"always-retry","message":"retried"}}"#
    );
    assert_eq!(
        render_as::<Flat, _>(&err, &Context::new()),
        r#"{"success":false,"error":"retried","code":"always-retry"}"#
    );
    assert_eq!(
        render_as::<Problem, _>(&err, &Context::new()),
        r#"{"type":"about:blank","title":"Conflict","status":409,"detail":"retried","code":"always-retry"}"#
    );
}

#[test]
fn catalog_lists_codes_statuses_messages_and_docs() {
    /// Errors of the leads API.
    #[allow(dead_code)]
    #[derive(Debug, thiserror::Error, ApiError)]
    #[api(code_case = "SCREAMING_SNAKE_CASE")]
    enum LeadError {
        /// No lead has this id | not even a deleted one.
        #[error("lead {0} not found")]
        #[api(status = 404)]
        LeadNotFound(String),
        /// The database failed.
        ///
        /// Retried by clients.
        #[error("db")]
        #[api(status = 500)]
        Database,
        #[error("limited")]
        #[api(status = 429, message = "Try again in {secs} seconds.")]
        RateLimited { secs: u64 },
    }
    let entries = rebuff::catalog::entries::<LeadError>();
    assert_eq!(entries[0].message, "lead {0} not found");
    assert_eq!(
        entries[1].description,
        "The database failed. Retried by clients."
    );
    assert_eq!(
        rebuff::catalog::markdown::<LeadError>(),
        "| Code | Status | Message | Retry? | Description |\n\
         |---|---|---|---|---|\n\
         | `LEAD_NOT_FOUND` | 404 Not Found | lead {0} not found | No | No lead has this id \\| not even a deleted one. |\n\
         | `DATABASE` | 500 Internal Server Error | Internal Server Error | Yes | The database failed. Retried by clients. |\n\
         | `RATE_LIMITED` | 429 Too Many Requests | Try again in {secs} seconds. | Yes |  |\n"
    );
}

#[derive(Debug, ApiError)]
enum Never {}

#[test]
fn an_empty_enum_derives() {
    assert!(Never::CATALOG.is_empty());
}

/// The API's own answers to the server's rejections.
#[derive(Debug, thiserror::Error, ApiError)]
#[api(rename_all = "camelCase")]
enum Answers {
    #[error("body too large")]
    #[api(
        status = 413,
        message = "At most {max_size} bytes",
        rejection = PayloadTooLarge
    )]
    TooLarge {
        max_size: u64,
        file_size: Option<u64>,
        // Named as no detail of the rejection: its default.
        #[api(skip)]
        hint: String,
    },
    #[error("busy")]
    #[api(status = 409, message = "Try again", rejection = RequestInProgress)]
    Busy {
        #[api(retry_after)]
        retry_after: Duration,
        #[api(rate_limit)]
        limits: Option<RateLimit>,
    },
    #[error("crashed")]
    #[api(status = 500, rejection = Internal)]
    Crashed(#[source] Option<std::io::Error>),
    // An unnamed delay is the rejection's delay too.
    #[error("throttled")]
    #[api(status = 429, rejection = Blocked)]
    Throttled(#[api(retry_after)] u64),
}

/// A struct answers a rejection too.
#[derive(Debug, thiserror::Error, ApiError)]
#[error("method {method} not allowed")]
#[api(status = 405, message = "Use another method", rejection = MethodNotAllowed)]
struct WrongMethod {
    method: String,
}

#[test]
fn marked_variants_answer_rejections_with_their_details() {
    use rebuff::Rejection;

    let too_large = Rejection::PayloadTooLarge {
        file_size: None,
        max_size: 1024,
    };
    assert!(matches!(
        Answers::from_rejection(&too_large),
        Some(Answers::TooLarge { max_size: 1024, file_size: None, hint }) if hint.is_empty()
    ));
    let response = rebuff::rejection::render::<Answers>(&too_large, &Context::new());
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.body().as_ref(),
        br#"{"error":{"code":"too_large","message":"At most 1024 bytes","details":{"maxSize":1024,"fileSize":null}}}"#
    );

    let busy = Answers::from_rejection(&Rejection::RequestInProgress { retry_after: 2 });
    assert!(
        matches!(
            busy,
            Some(Answers::Busy { retry_after, limits: None }) if retry_after == Duration::from_secs(2)
        ),
        "{busy:?}"
    );
    assert!(matches!(
        Answers::from_rejection(&Rejection::Internal),
        Some(Answers::Crashed(None))
    ));
    assert!(Answers::from_rejection(&Rejection::IdempotencyKeyReused).is_none());
    let throttled = Rejection::Blocked { retry_after: 17 };
    assert!(
        matches!(
            Answers::from_rejection(&throttled),
            Some(Answers::Throttled(17))
        ),
        "{:?}",
        Answers::from_rejection(&throttled)
    );

    let wrong = WrongMethod::from_rejection(&Rejection::MethodNotAllowed {
        method: "PATCH".into(),
    });
    assert_eq!(wrong.map(|w| w.method).as_deref(), Some("PATCH"));
    assert!(WrongMethod::from_rejection(&Rejection::Internal).is_none());
}

/// A transparent variant may hold a type whose variant answers one of the
/// server's rejections with that rejection's code: the client reads the same
/// error whoever sent it.
#[test]
fn a_transparent_variant_may_hold_a_rejections_own_answer() {
    #[derive(Debug, thiserror::Error, ApiError)]
    enum Common {
        #[error("no such route")]
        #[api(status = 404, rejection = NotFound)]
        NotFound { path: String },
    }

    #[derive(Debug, thiserror::Error, ApiError)]
    enum Service {
        #[error(transparent)]
        #[api(transparent)]
        Common(Common),
    }

    let err = Service::Common(Common::NotFound { path: "/x".into() });
    assert_eq!(err.code(), "not_found");
    let entries = rebuff::catalog::entries::<Service>();
    assert_eq!(entries[0].answers, Some(rebuff::RejectionKind::NotFound));
}

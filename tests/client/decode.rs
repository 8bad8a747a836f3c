//! One enum on both sides of the wire: a server renders it, a client parses
//! the response and `#[api(decode)]` rebuilds the same value.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::Duration;

use rebuff::client::{ClientError, FromRemote, RemoteError};
use rebuff::envelope::{Envelope, Flat, Nested, Plain, Problem, Success};
use rebuff::{Advice, ApiError, Context, RateLimit, Rejection, Retryable};

#[derive(Debug, Clone, PartialEq, thiserror::Error, ApiError)]
#[api(decode, code_case = "SCREAMING_SNAKE_CASE", rename_all = "camelCase")]
enum LeadError {
    #[error("validation failed on {field}")]
    #[api(status = 400, message = "Validation failed")]
    ValidationError {
        field: String,
        value: String,
        message: String,
    },
    #[error("lead {lead_id} not found")]
    #[api(status = 404, message = "Lead not found")]
    LeadNotFound { lead_id: String },
    #[error("duplicate")]
    #[api(status = 409, message = "Email already exists")]
    DuplicateEmail {
        email: String,
        existing_lead_id: Option<String>,
    },
    #[error("rate limited")]
    #[api(
        status = 429,
        message = "Rate limit exceeded. Try again in {retry_after} seconds."
    )]
    RateLimited {
        #[api(retry_after)]
        retry_after: u64,
        #[api(rate_limit)]
        limits: RateLimit,
    },
    #[error("hidden {0}")]
    #[api(status = 500)]
    Internal(
        #[source]
        #[api(example = Cause("pool closed".into()))]
        Cause,
    ),
    #[error("overloaded, {queue} waiting")]
    #[api(status = 503, message = "Overloaded")]
    Overloaded { queue: u32 },
    #[error("invalid")]
    #[api(status = 422, message = "Invalid input")]
    Invalid {
        #[api(errors)]
        errors: Vec<String>,
        #[api(flatten)]
        extra: BTreeMap<String, u32>,
    },
    #[error("quiet")]
    #[api(status = 503, message = "Maintenance")]
    Maintenance {
        #[api(retry_after, skip)]
        wait: Duration,
    },
    #[error("unknown: {0}")]
    #[api(transparent, other)]
    Unknown(RemoteError),
}

/// An internal cause: never sent, so a client cannot rebuild the variant
/// holding it (and the cause needs no `Default`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cause: {0}")]
struct Cause(String);

fn round_trip<V: Envelope, E: ApiError + FromRemote + Debug>(err: &E) -> Option<E> {
    let ctx = Context::new().request_id("req_rt").now().instance("/leads");
    let response = V::to_response(err, &ctx);
    let remote = RemoteError::parse(response.status(), response.headers(), response.body());
    assert_eq!(remote.request_id(), Some("req_rt"), "{err:?}");
    E::from_remote(&remote)
}

fn limits() -> RateLimit {
    RateLimit {
        limit: 60,
        remaining: 0,
        reset: 1_699_564_832,
    }
}

#[test]
fn every_coded_envelope_round_trips() {
    let errors = [
        LeadError::ValidationError {
            field: "email".into(),
            value: "x".into(),
            message: "Must be a valid email address".into(),
        },
        LeadError::LeadNotFound {
            lead_id: "lead_1".into(),
        },
        LeadError::DuplicateEmail {
            email: "a@b.c".into(),
            existing_lead_id: None,
        },
        LeadError::DuplicateEmail {
            email: "a@b.c".into(),
            existing_lead_id: Some("lead_2".into()),
        },
        LeadError::RateLimited {
            retry_after: 32,
            limits: limits(),
        },
        LeadError::Invalid {
            errors: vec!["a".into(), "b".into()],
            extra: [("max".to_owned(), 3)].into(),
        },
        LeadError::Maintenance {
            wait: Duration::from_secs(30),
        },
    ];
    for err in &errors {
        assert_eq!(round_trip::<Nested, _>(err).as_ref(), Some(err), "Nested");
        assert_eq!(round_trip::<Success, _>(err).as_ref(), Some(err), "Success");
        assert_eq!(round_trip::<Flat, _>(err).as_ref(), Some(err), "Flat");
        assert_eq!(round_trip::<Problem, _>(err).as_ref(), Some(err), "Problem");
    }
}

#[test]
fn plain_has_no_code_so_fixed_messages_decode_by_status_and_text() {
    let err = LeadError::LeadNotFound {
        lead_id: "lead_1".into(),
    };
    // `lead_id` is not in a Plain body: the variant is found, its field is not.
    let decoded = round_trip::<Plain, _>(&err).unwrap();
    assert!(matches!(decoded, LeadError::Unknown(_)), "{decoded:?}");

    #[derive(Debug, PartialEq, thiserror::Error, ApiError)]
    #[api(envelope = rebuff::envelope::Plain, decode)]
    enum RecordingError {
        #[error("unauthorized")]
        #[api(status = 401, message = "Invalid or expired API key")]
        Unauthorized,
        #[error("rate limited")]
        #[api(status = 429, message = "Rate limit exceeded")]
        RateLimited {
            #[api(retry_after)]
            retry_after: u32,
        },
        #[error("invalid")]
        #[api(status = 422, message = "Invalid")]
        Invalid {
            #[api(errors)]
            errors: Vec<String>,
        },
    }
    for err in [
        RecordingError::Unauthorized,
        RecordingError::RateLimited { retry_after: 60 },
    ] {
        assert_eq!(round_trip::<Plain, _>(&err), Some(err));
    }
    // A list of messages has no code and no fixed message: not decodable.
    assert_eq!(
        round_trip::<Plain, _>(&RecordingError::Invalid {
            errors: vec!["x".into()]
        }),
        None
    );

    // A one-word message reads as a code: it still names its variant.
    #[derive(Debug, PartialEq, thiserror::Error, ApiError)]
    #[api(envelope = rebuff::envelope::Plain, decode)]
    enum AccountError {
        #[error("suspended")]
        #[api(status = 403, message = "Suspended")]
        Suspended,
        #[error("unavailable")]
        #[api(status = 503)]
        Unavailable,
    }
    assert_eq!(
        round_trip::<Plain, _>(&AccountError::Suspended),
        Some(AccountError::Suspended)
    );
    // A 5xx without a message of its own says only its status's reason
    // phrase, which is what a proxy's empty 503 or error page says too:
    // such a response is none of the API's errors.
    for body in [
        &b""[..],
        b"<html><head><title>Service Unavailable</title></head></html>",
    ] {
        let remote = RemoteError::parse(
            rebuff::StatusCode::SERVICE_UNAVAILABLE,
            &Default::default(),
            body,
        );
        assert_eq!(AccountError::from_remote(&remote), None, "{remote:?}");
    }
}

#[test]
fn hidden_fields_decode_to_their_default_and_unknown_codes_to_other() {
    // A 5xx hides `queue`: the client gets the variant with the default.
    let err = LeadError::Overloaded { queue: 12 };
    assert_eq!(
        round_trip::<Nested, _>(&err),
        Some(LeadError::Overloaded { queue: 0 })
    );

    // The cause is never sent: its variant's code decodes as an unknown one.
    let err = LeadError::Internal(Cause("secret".into()));
    let decoded = round_trip::<Nested, _>(&err).unwrap();
    let LeadError::Unknown(inner) = &decoded else {
        panic!("{decoded:?}")
    };
    assert_eq!(inner.code(), Some("INTERNAL"));
    assert_eq!(inner.message(), "Internal Server Error");

    let body = br#"{"error":{"code":"BRAND_NEW","message":"Something new"}}"#;
    let remote = RemoteError::parse(rebuff::StatusCode::IM_A_TEAPOT, &Default::default(), body);
    let decoded = LeadError::from_remote(&remote).unwrap();
    let LeadError::Unknown(inner) = &decoded else {
        panic!("{decoded:?}")
    };
    assert_eq!(inner.code(), Some("BRAND_NEW"));
    assert_eq!(
        decoded.status(),
        418,
        "the other variant renders as the remote did"
    );
}

/// Status and message tell a variant only in a body without a code: a
/// server's own `not_found` that happens to say "Lead not found" is not a
/// missing lead.
#[test]
fn a_code_no_variant_has_is_not_read_by_its_message() {
    #[derive(Debug, thiserror::Error, ApiError)]
    #[api(decode)]
    #[allow(clippy::large_enum_variant)]
    enum LookupError {
        #[error("no such lead")]
        #[api(status = 404, message = "Lead not found")]
        LeadNotFound,
        #[error("{0}")]
        #[api(transparent, other)]
        Other(RemoteError),
    }
    let decode = |body: &[u8]| {
        let remote = RemoteError::parse(rebuff::StatusCode::NOT_FOUND, &Default::default(), body);
        LookupError::from_remote(&remote).unwrap()
    };
    let decoded = decode(br#"{"error":{"code":"not_found","message":"Lead not found"}}"#);
    let LookupError::Other(inner) = &decoded else {
        panic!("{decoded:?}")
    };
    assert_eq!(inner.code(), Some("not_found"));

    // Without a code, the same words are the variant's.
    let decoded = decode(br#"{"error":"Lead not found"}"#);
    assert!(matches!(decoded, LookupError::LeadNotFound), "{decoded:?}");
}

#[test]
fn client_errors_carry_request_ids_and_retry_advice() {
    let err = LeadError::RateLimited {
        retry_after: 7,
        limits: limits(),
    };
    let response = rebuff::to_response(&err, &Context::new().request_id("req_42"));
    let remote = RemoteError::parse(response.status(), response.headers(), response.body());
    let client: ClientError<LeadError> = ClientError::from_remote(remote);
    assert_eq!(client.api(), Some(&err));
    assert_eq!(client.request_id(), Some("req_42"));
    assert_eq!(client.rate_limit(), Some(limits()));
    assert_eq!(
        client.retry_advice(),
        Advice::RetryAfter(Duration::from_secs(7))
    );
    let text = client.to_string();
    assert!(text.contains("req_42") && text.contains("429"), "{text}");

    let untyped: ClientError = ClientError::from_remote(RemoteError::parse(
        rebuff::StatusCode::NOT_FOUND,
        &Default::default(),
        b"<html><title>404 Not Found</title></html>",
    ));
    assert_eq!(untyped.retry_advice(), Advice::Stop);
    assert_eq!(untyped.status(), Some(rebuff::StatusCode::NOT_FOUND));

    #[derive(Debug, PartialEq, thiserror::Error, ApiError)]
    #[api(decode)]
    enum Narrow {
        #[error("nf")]
        #[api(status = 404)]
        LeadNotFound,
    }
    let limited: ClientError<Narrow> = ClientError::from_remote(RemoteError::new(
        rebuff::StatusCode::TOO_MANY_REQUESTS,
        None,
        None,
    ));
    assert!(matches!(limited, ClientError::RateLimited(_)));
    assert_eq!(limited.retry_advice(), Advice::Retry);
    let timeout =
        <ClientError<Narrow> as Retryable>::timeout_error().unwrap()(rebuff::retry::TimedOut {
            limit: Duration::from_secs(1),
        });
    assert!(timeout.is_timeout());
    assert_eq!(timeout.retry_advice(), Advice::Retry);
}

/// A variant that stands for other responses too (a unit `other`) does not
/// decide their retries: the response's status does.
#[test]
fn an_other_variant_retries_as_the_response_says() {
    #[derive(Debug, PartialEq, thiserror::Error, ApiError)]
    #[api(decode)]
    enum Upstream {
        #[error("nf")]
        #[api(status = 404)]
        LeadNotFound,
        #[error("upstream failed")]
        #[api(status = 502, other)]
        Failed,
    }
    let decoded = |status: u16, body: &[u8]| -> ClientError<Upstream> {
        let status = rebuff::StatusCode::from_u16(status).unwrap();
        ClientError::from_remote(RemoteError::parse(status, &Default::default(), body))
    };
    // A proxy's 404 page: the other variant, not retried.
    let page = decoded(404, b"<html><title>404 Not Found</title></html>");
    assert_eq!(page.api(), Some(&Upstream::Failed));
    assert_eq!(page.retry_advice(), Advice::Stop);
    // An unknown code under a 503: retried, as a 503 is.
    let busy = decoded(503, br#"{"error":{"code":"busy","message":"Busy"}}"#);
    assert_eq!(busy.api(), Some(&Upstream::Failed));
    assert_eq!(busy.retry_advice(), Advice::Retry);
    // Under its own status, the variant's advice.
    let failed = decoded(
        502,
        br#"{"error":{"code":"failed","message":"Bad Gateway"}}"#,
    );
    assert_eq!(failed.retry_advice(), Advice::Retry);
    let missing = decoded(
        404,
        br#"{"error":{"code":"lead_not_found","message":"nf"}}"#,
    );
    assert_eq!(missing.api(), Some(&Upstream::LeadNotFound));
    assert_eq!(missing.retry_advice(), Advice::Stop);
}

#[test]
fn a_remote_error_passes_through_a_gateway() {
    let body = br#"{"error":{"code":"quota_exceeded","message":"Insufficient credits","details":{"credits":0}}}"#;
    let remote = RemoteError::parse(
        rebuff::StatusCode::PAYMENT_REQUIRED,
        &Default::default(),
        body,
    );
    let forwarded = rebuff::to_vec(&remote, &Context::new());
    assert_eq!(forwarded, body);
}

/// A store whose database errors convert with `?`: the `#[from]` cause is
/// never sent, so `decode` leaves that variant out instead of asking for
/// `std::io::Error: Default`.
#[derive(Debug, thiserror::Error, ApiError)]
#[api(decode)]
enum StoreError {
    #[error("lead {lead_id} not found")]
    #[api(status = 404, message = "Lead not found")]
    LeadNotFound { lead_id: String },
    #[error("database: {0}")]
    #[api(status = 500)]
    Database(#[from] std::io::Error),
    /// thiserror's `transparent`: the one field is the cause too.
    #[error(transparent)]
    #[api(status = 503, message = "Try again later")]
    Cache(std::io::Error),
}

fn load(id: &str) -> Result<String, StoreError> {
    if id.is_empty() {
        Err(std::io::Error::other("connection refused"))?;
    }
    Err(StoreError::LeadNotFound { lead_id: id.into() })
}

#[test]
fn a_variant_with_a_foreign_cause_is_not_decoded() {
    let not_found = load("lead_1").unwrap_err();
    let decoded = round_trip::<Nested, _>(&not_found);
    assert!(
        matches!(&decoded, Some(StoreError::LeadNotFound { lead_id }) if lead_id == "lead_1"),
        "{decoded:?}"
    );

    let database = load("").unwrap_err();
    assert!(matches!(database, StoreError::Database(_)));
    // Without an `other` variant, the code decodes to nothing, as an
    // unknown code does; the client still has the `RemoteError`.
    assert!(round_trip::<Nested, _>(&database).is_none());
    let response = rebuff::to_response(&database, &Context::new());
    let remote = RemoteError::parse(response.status(), response.headers(), response.body());
    assert_eq!(remote.code(), Some("database"));
    let client: ClientError<StoreError> = ClientError::from_remote(remote);
    assert!(client.api().is_none());
    assert_eq!(
        client.status(),
        Some(rebuff::StatusCode::INTERNAL_SERVER_ERROR)
    );

    let cache = StoreError::Cache(std::io::Error::other("cache host 10.0.0.7 down"));
    assert!(round_trip::<Nested, _>(&cache).is_none());
    let body = rebuff::to_vec(&cache, &Context::new());
    let body = String::from_utf8(body).unwrap();
    assert!(!body.contains("10.0.0.7"), "{body}");
}

/// An API that answers unknown routes with its own error, which its
/// clients decode like any other.
#[derive(Debug, PartialEq, thiserror::Error, ApiError)]
#[api(decode, code_case = "SCREAMING_SNAKE_CASE")]
enum RouteError {
    #[error("no route for {path}")]
    #[api(status = 404, message = "No such endpoint", rejection = NotFound)]
    RouteNotFound { path: String },
    #[error("lead not found")]
    #[api(status = 404, message = "Lead not found")]
    LeadNotFound,
}

#[test]
fn a_variant_answers_a_rejection_with_its_details() {
    let rejection = Rejection::NotFound { path: "/x".into() };
    let own = RouteError::from_rejection(&rejection);
    assert_eq!(own, Some(RouteError::RouteNotFound { path: "/x".into() }));
    let unmarked = Rejection::InvalidJson {
        reason: "expected value".into(),
    };
    assert_eq!(RouteError::from_rejection(&unmarked), None);

    // What the server sends for the unknown route is the API's own error,
    // and a client reads it back as such.
    let response = rebuff::rejection::render::<RouteError>(&rejection, &Context::new());
    assert_eq!(response.status(), 404);
    let remote = RemoteError::parse(response.status(), response.headers(), response.body());
    assert_eq!(remote.code(), Some("ROUTE_NOT_FOUND"));
    assert_eq!(
        RouteError::from_remote(&remote),
        Some(RouteError::RouteNotFound { path: "/x".into() })
    );
}

/// A hint on a 4xx that cannot heal (a 422 echoing the request's own
/// `retry_after`) is no advice; on a 403, a 409 or a 425 it is.
#[test]
fn only_a_4xx_that_can_clear_is_retried_on_its_hint() {
    let body = br#"{"error":{"code":"invalid","message":"Invalid","details":{"retry_after":30}}}"#;
    let advice = |status: u16| {
        let status = rebuff::StatusCode::from_u16(status).unwrap();
        let client: ClientError =
            ClientError::from_remote(RemoteError::parse(status, &Default::default(), body));
        client.retry_advice()
    };
    assert_eq!(advice(422), Advice::Stop);
    assert_eq!(advice(400), Advice::Stop);
    for status in [403, 409, 425, 507] {
        assert_eq!(
            advice(status),
            Advice::RetryAfter(Duration::from_secs(30)),
            "{status}"
        );
    }
}

/// A `Retry-After` of more seconds than a `u64` holds (with a fraction) is
/// read as the longest wait there is, not a panic nor "retry now".
#[test]
fn a_retry_after_past_the_largest_number_saturates() {
    #[derive(Debug, thiserror::Error, ApiError)]
    #[api(decode)]
    #[allow(
        clippy::large_enum_variant,
        reason = "the other variant holds a whole remote error, as users write it"
    )]
    enum Busy {
        #[error("busy")]
        #[api(status = 503, message = "Busy")]
        Busy {
            #[api(retry_after, skip)]
            retry_after: u64,
        },
        #[error("other: {0}")]
        #[api(transparent, other)]
        Other(RemoteError),
    }

    let response = Flat::to_response(&Busy::Busy { retry_after: 32 }, &Context::new());
    let mut headers = response.headers().clone();
    headers.insert(
        "retry-after",
        http::HeaderValue::from_static("18446744073709551615.5"),
    );
    let remote = RemoteError::parse(response.status(), &headers, response.body());
    assert_eq!(
        remote.retry_after().map(|wait| wait.as_secs()),
        Some(u64::MAX)
    );
    match Busy::from_remote(&remote) {
        Some(Busy::Busy { retry_after }) => assert_eq!(retry_after, u64::MAX),
        other => panic!("{other:?}"),
    }
}

/// A transparent variant may box its error (as clippy's
/// `large_enum_variant` asks of a large one), the `other` variant too.
#[test]
fn a_boxed_transparent_variant_delegates_and_decodes() {
    #[derive(Debug, PartialEq, thiserror::Error, ApiError)]
    #[api(decode)]
    enum Billing {
        #[error("card declined")]
        #[api(status = 402, message = "Card declined")]
        CardDeclined { reason: String },
    }

    #[derive(Debug, thiserror::Error, ApiError)]
    #[api(decode)]
    enum Gateway {
        #[error(transparent)]
        #[api(transparent)]
        Billing(Box<Billing>),
        #[error("{0}")]
        #[api(transparent, other)]
        Other(Box<RemoteError>),
    }

    let err = Gateway::Billing(Box::new(Billing::CardDeclined {
        reason: "expired".into(),
    }));
    assert_eq!(err.status(), 402);
    assert_eq!(err.code(), "card_declined");
    let decoded = round_trip::<Nested, _>(&err).unwrap();
    let Gateway::Billing(billing) = &decoded else {
        panic!("{decoded:?}")
    };
    assert_eq!(
        **billing,
        Billing::CardDeclined {
            reason: "expired".into()
        }
    );

    let body = br#"{"error":{"code":"gone","message":"Gone"}}"#;
    let remote = RemoteError::parse(rebuff::StatusCode::GONE, &Default::default(), body);
    let decoded = Gateway::from_remote(&remote).unwrap();
    assert!(matches!(&decoded, Gateway::Other(inner) if RemoteError::code(inner) == Some("gone")));
}

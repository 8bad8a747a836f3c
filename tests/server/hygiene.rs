//! Generated code names everything by absolute path: it compiles without the
//! prelude and beside user types that shadow the prelude's names.

mod no_prelude {
    #![no_implicit_prelude]

    #[derive(::core::fmt::Debug, ::rebuff::ApiError)]
    #[api(envelope = ::rebuff::envelope::Flat, rename_all = "camelCase")]
    pub(super) enum LeadError {
        #[api(status = 404, message = "Lead {lead_id} not found")]
        LeadNotFound { lead_id: u32 },
        #[api(status = 429, message = "Slow down")]
        RateLimited {
            #[api(retry_after)]
            retry_after: u64,
            #[api(rate_limit)]
            limits: ::rebuff::RateLimit,
        },
        #[api(status = 500)]
        Internal(#[api(expose, rename = "jobId")] u32),
        #[api(status = 422, message = "Invalid")]
        Invalid {
            #[api(errors)]
            messages: &'static [&'static str],
            #[api(flatten)]
            extra: ::core::option::Option<::std::collections::BTreeMap<&'static str, u8>>,
        },
        #[api(status = 404, message = "No route for {path}", rejection = NotFound)]
        RouteNotFound { path: ::std::string::String },
    }
}

mod shadowed {
    #![allow(dead_code, non_camel_case_types, clippy::upper_case_acronyms)]

    pub(super) struct Result;
    pub(super) struct Ok;
    pub(super) struct Err;
    pub(super) struct Option;
    pub(super) struct Some;
    pub(super) struct None;
    pub(super) struct Box;
    pub(super) struct String;
    pub(super) struct Vec;
    pub(super) struct str;
    pub(super) struct bool;
    pub(super) struct Duration;
    pub(super) struct StatusCode;
    pub(super) trait Serialize {}
    pub(super) trait Display {}

    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    pub(super) enum ShadowError {
        #[error("not found {0}")]
        #[api(status = 404, rejection = NotFound)]
        NotFound(u32),
        #[error("limited")]
        #[api(status = TOO_MANY_REQUESTS, message = "Again in {secs}s")]
        Limited {
            #[api(retry_after)]
            secs: u64,
        },
        #[error("inner: {0:?}")]
        #[api(transparent)]
        Inner(super::no_prelude::LeadError),
    }
}

use rebuff::{ApiError, Context};

#[test]
fn generated_code_works_without_the_prelude() {
    let err = no_prelude::LeadError::Invalid {
        messages: &["a is required"],
        extra: None,
    };
    assert_eq!(
        rebuff::to_vec(&err, &Context::new()),
        br#"{"success":false,"error":"Invalid","code":"invalid","details":{"errors":["a is required"]}}"#
    );
    let err = no_prelude::LeadError::LeadNotFound { lead_id: 7 };
    assert_eq!(err.message().to_string(), "Lead 7 not found");
    let err = no_prelude::LeadError::RateLimited {
        retry_after: 4,
        limits: rebuff::RateLimit {
            limit: 1,
            remaining: 0,
            reset: 9,
        },
    };
    let response = rebuff::to_response(&err, &Context::new());
    assert_eq!(response.headers()["retry-after"], "4");
    assert_eq!(response.headers()["x-ratelimit-reset"], "9");
    let err = no_prelude::LeadError::Internal(3);
    assert_eq!(
        rebuff::to_vec(&err, &Context::new()),
        br#"{"success":false,"error":"Internal Server Error","code":"internal","details":{"jobId":3}}"#
    );
}

#[test]
fn generated_code_ignores_shadowed_prelude_names() {
    let err = shadowed::ShadowError::Limited { secs: 3 };
    assert_eq!(err.message().to_string(), "Again in 3s");
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(3)));
    let inner = shadowed::ShadowError::Inner(no_prelude::LeadError::LeadNotFound { lead_id: 1 });
    assert_eq!(inner.code(), "lead_not_found");
    assert_eq!(
        shadowed::ShadowError::NotFound(2).message().to_string(),
        "not found 2"
    );
}

#[test]
fn rejections_are_answered_without_the_prelude_and_beside_shadowed_names() {
    let rejection = rebuff::Rejection::NotFound { path: "/x".into() };
    let own = no_prelude::LeadError::from_rejection(&rejection);
    assert!(
        matches!(&own, Some(no_prelude::LeadError::RouteNotFound { path }) if path == "/x"),
        "{own:?}"
    );
    let own = shadowed::ShadowError::from_rejection(&rejection);
    assert!(
        matches!(own, Some(shadowed::ShadowError::NotFound(0))),
        "{own:?}"
    );
    assert!(no_prelude::LeadError::from_rejection(&rebuff::Rejection::Internal).is_none());
}

//! Rendering an error envelope: rebuff's derive against the hand-written
//! `#[derive(Serialize)]` struct of the same JSON, side by side, one group per
//! seed error.
//!
//! Both sides start from the same error value and request context inside the
//! timed loop and write the same bytes (checked before timing) into a reused
//! buffer. The hand-written side is what a careful author writes without
//! rebuff: a borrowed struct per envelope, `format_args!` for a message with a
//! placeholder, the timestamp through `humantime` with `collect_str`, and
//! `skip_serializing_if` for absent keys, so neither side allocates.
//!
//! Run: `cargo bench --bench envelope`

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use rebuff::{ApiError, Context};
use serde::Serialize;

#[derive(Debug, thiserror::Error, ApiError)]
enum CallError {
    #[error("file too large")]
    #[api(
        status = 413,
        message = "Audio file exceeds maximum size of {max_size_mb} MB"
    )]
    FileTooLarge { file_size_mb: u64, max_size_mb: u64 },
}

#[derive(Debug, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Success)]
enum AgentError {
    #[error("validation")]
    #[api(
        status = 422,
        code = "validation_error",
        message = "Agent name is already in use"
    )]
    Validation,
}

#[derive(Debug, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Plain)]
enum RecordingError {
    #[error("rate limited")]
    #[api(status = 429, message = "Rate limit exceeded")]
    RateLimited {
        #[api(retry_after)]
        retry_after: u64,
    },
}

#[derive(Debug, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE", rename_all = "camelCase")]
enum LeadError {
    #[error("duplicate email")]
    #[api(status = 409, message = "Email already exists")]
    DuplicateEmail {
        email: String,
        existing_lead_id: String,
        message: &'static str,
    },
}

#[derive(Debug, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Problem, type_base = "https://api.example.com/errors/")]
enum ProblemError {
    #[error("not found")]
    #[api(status = 404, message = "Lead not found")]
    LeadNotFound { lead_id: String },
}

// The hand-written equivalents.

/// An RFC 3339 timestamp serialized as a string, seconds or milliseconds.
struct Ts(SystemTime, bool);

impl Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.1 {
            s.collect_str(&humantime::format_rfc3339_millis(self.0))
        } else {
            s.collect_str(&humantime::format_rfc3339_seconds(self.0))
        }
    }
}

#[derive(Serialize)]
struct HandNested<'a, M: Serialize> {
    error: HandNestedInner<'a, M>,
}

#[derive(Serialize)]
struct HandNestedInner<'a, M: Serialize> {
    code: &'a str,
    message: M,
    details: HandSizes,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

#[derive(Serialize)]
struct HandSizes {
    file_size_mb: u64,
    max_size_mb: u64,
}

#[derive(Serialize)]
struct HandSuccess<'a> {
    success: bool,
    error: HandCodeMessage<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<Ts>,
}

#[derive(Serialize)]
struct HandCodeMessage<'a> {
    code: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct HandPlain<'a> {
    error: &'a str,
    retry_after: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HandFlat<'a> {
    success: bool,
    error: &'a str,
    code: &'a str,
    details: HandDuplicate<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<Ts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HandDuplicate<'a> {
    email: &'a str,
    existing_lead_id: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct HandProblem<'a> {
    r#type: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<&'a str>,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    lead_id: &'a str,
}

fn bench_pair<E: ApiError>(
    c: &mut Criterion,
    name: &str,
    err: &E,
    ctx: &Context,
    hand: impl Fn(&E, &Context, &mut Vec<u8>),
) {
    // Same bytes on both sides, or the comparison means nothing.
    let ours = rebuff::to_vec(err, ctx);
    let mut theirs = Vec::new();
    hand(err, ctx, &mut theirs);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs),
        "{name}"
    );

    let mut group = c.benchmark_group(name);
    let mut buf = Vec::with_capacity(1024);
    group.bench_function("rebuff", |b| {
        b.iter(|| {
            buf.clear();
            rebuff::write_into(black_box(err), black_box(ctx), &mut buf);
            black_box(&buf);
        });
    });
    group.bench_function("hand_written", |b| {
        b.iter(|| {
            buf.clear();
            hand(black_box(err), black_box(ctx), &mut buf);
            black_box(&buf);
        });
    });
    group.finish();
}

fn envelopes(c: &mut Criterion) {
    let err = CallError::FileTooLarge {
        file_size_mb: 150,
        max_size_mb: 100,
    };
    let ctx = Context::new().request_id("req_1a2b3c4d5e");
    bench_pair(c, "nested_file_too_large", &err, &ctx, |err, ctx, buf| {
        let CallError::FileTooLarge {
            file_size_mb,
            max_size_mb,
        } = *err;
        let body = HandNested {
            error: HandNestedInner {
                code: "file_too_large",
                message: format_args!("Audio file exceeds maximum size of {max_size_mb} MB"),
                details: HandSizes {
                    file_size_mb,
                    max_size_mb,
                },
                request_id: ctx.get_request_id(),
            },
        };
        serde_json::to_writer(buf, &body).unwrap();
    });

    let ctx = Context::new()
        .request_id("req_abc123")
        .timestamp(UNIX_EPOCH + Duration::from_secs(1_735_732_800));
    bench_pair(
        c,
        "success_validation",
        &AgentError::Validation,
        &ctx,
        |_, ctx, buf| {
            let body = HandSuccess {
                success: false,
                error: HandCodeMessage {
                    code: "validation_error",
                    message: "Agent name is already in use",
                },
                request_id: ctx.get_request_id(),
                timestamp: ctx.get_timestamp().map(|t| Ts(t, false)),
            };
            serde_json::to_writer(buf, &body).unwrap();
        },
    );

    let err = RecordingError::RateLimited { retry_after: 60 };
    bench_pair(
        c,
        "plain_rate_limited",
        &err,
        &Context::new(),
        |err, _, buf| {
            let RecordingError::RateLimited { retry_after } = *err;
            serde_json::to_writer(
                buf,
                &HandPlain {
                    error: "Rate limit exceeded",
                    retry_after,
                },
            )
            .unwrap();
        },
    );

    let err = LeadError::DuplicateEmail {
        email: "john.doe@example.com".into(),
        existing_lead_id: "lead_existing123".into(),
        message: "A lead with this email already exists in your workspace",
    };
    let ctx = Context::new()
        .request_id("req_1234567890abcdef")
        .timestamp(at());
    bench_pair(c, "flat_duplicate_email", &err, &ctx, |err, ctx, buf| {
        let LeadError::DuplicateEmail {
            email,
            existing_lead_id,
            message,
        } = err;
        let body = HandFlat {
            success: false,
            error: "Email already exists",
            code: "DUPLICATE_EMAIL",
            details: HandDuplicate {
                email,
                existing_lead_id,
                message,
            },
            timestamp: ctx.get_timestamp().map(|t| Ts(t, true)),
            request_id: ctx.get_request_id(),
        };
        serde_json::to_writer(buf, &body).unwrap();
    });

    let err = ProblemError::LeadNotFound {
        lead_id: "lead_nonexistent123".into(),
    };
    let ctx = Context::new()
        .request_id("req_9")
        .instance("/api/v1/leads/lead_nonexistent123");
    bench_pair(c, "problem_lead_not_found", &err, &ctx, |err, ctx, buf| {
        let ProblemError::LeadNotFound { lead_id } = err;
        let body = HandProblem {
            r#type: "https://api.example.com/errors/lead_not_found",
            title: "Not Found",
            status: 404,
            detail: "Lead not found",
            instance: ctx.get_instance(),
            code: "lead_not_found",
            request_id: ctx.get_request_id(),
            lead_id,
        };
        serde_json::to_writer(buf, &body).unwrap();
    });
}

fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_705_401_000)
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = envelopes
}
criterion_main!(benches);

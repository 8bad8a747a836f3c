//! The headers of an error response: the server's request id, `Retry-After`
//! and the rate-limit state (`X-RateLimit-*`, `RateLimit-*`), read in one
//! pass over the map.

use core::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};

use crate::RateLimit;
use crate::retry::parse_retry_after;

/// Request-id headers, most specific first.
const REQUEST_ID_HEADERS: &[&str] = &[
    "x-request-id",
    "request-id",
    "x-amzn-requestid",
    "x-amz-request-id",
    "x-github-request-id",
    "twilio-request-id",
    "x-ms-request-id",
    "paypal-debug-id",
    "x-slack-req-id",
    "x-correlation-id",
    "x-trace-id",
    "cf-ray",
];

/// The headers the parser reads, found in one pass over the map (looking
/// each name up would parse and hash it, twenty times per response).
#[derive(Default)]
pub(super) struct Seen<'h> {
    pub(super) content_type: Option<&'h str>,
    retry_after: Option<&'h str>,
    date: Option<&'h str>,
    limit: Option<&'h str>,
    remaining: Option<&'h str>,
    reset: Option<&'h str>,
    reset_after: Option<&'h str>,
    pub(super) request_id: Option<&'h str>,
    /// Rank of `request_id` in [`REQUEST_ID_HEADERS`].
    request_id_rank: usize,
}

impl<'h> Seen<'h> {
    pub(super) fn read(headers: &'h HeaderMap) -> Self {
        let mut seen = Seen {
            request_id_rank: usize::MAX,
            ..Seen::default()
        };
        for (name, value) in headers {
            let Ok(value) = value.to_str() else { continue };
            let value = value.trim();
            let slot = match name.as_str() {
                "content-type" => &mut seen.content_type,
                "retry-after" => &mut seen.retry_after,
                "date" => &mut seen.date,
                "x-ratelimit-limit" | "ratelimit-limit" => &mut seen.limit,
                "x-ratelimit-remaining" | "ratelimit-remaining" => &mut seen.remaining,
                "x-ratelimit-reset" | "ratelimit-reset" => &mut seen.reset,
                "x-ratelimit-reset-after" => &mut seen.reset_after,
                other => {
                    if let Some(rank) = REQUEST_ID_HEADERS.iter().position(|n| *n == other) {
                        if rank < seen.request_id_rank && !value.is_empty() {
                            seen.request_id = Some(value);
                            seen.request_id_rank = rank;
                        }
                    }
                    continue;
                }
            };
            slot.get_or_insert(value);
        }
        seen
    }
}

/// A reset time: Unix seconds (possibly fractional, possibly milliseconds)
/// or, for small values, seconds from now. Returns Unix seconds.
fn reset_epoch(value: &str, reference: impl FnOnce() -> SystemTime) -> Option<u64> {
    let number: f64 = value.trim().parse().ok()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let number = number as u64;
    Some(match number {
        n if n > 100_000_000_000 => n / 1000, // milliseconds
        n if n > 1_000_000_000 => n,          // seconds since the epoch
        n => reference()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .saturating_add(n),
    })
}

#[inline]
fn first_number(value: Option<&str>) -> Option<u64> {
    value.and_then(first_number_of)
}

fn first_number_of(value: &str) -> Option<u64> {
    value.split([',', ';']).next()?.trim().parse().ok()
}

/// When to retry and the rate-limit state: from the headers, and from the
/// body's own retry-after (`body_hint`) when no `Retry-After` header says.
pub(super) fn read_timing(
    status: StatusCode,
    seen: &Seen<'_>,
    body_hint: Option<Duration>,
    now: impl Fn() -> SystemTime,
) -> (Option<Duration>, Option<RateLimit>) {
    // The server's clock, when it says, for epoch resets.
    let server_now = || {
        seen.date
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .unwrap_or_else(&now)
    };
    let limit = first_number(seen.limit);
    let remaining = first_number(seen.remaining);
    let reset = seen.reset.and_then(|v| reset_epoch(v, server_now));
    let rate_limit = (limit.is_some() || remaining.is_some()).then(|| RateLimit {
        limit: limit.unwrap_or(0),
        remaining: remaining.unwrap_or(0),
        reset: reset.unwrap_or(0),
    });

    let header_hint = seen.retry_after.and_then(|v| parse_retry_after(v, now()));
    let reset_after = seen.reset_after.and_then(|v| {
        let secs: f64 = v.parse().ok()?;
        Duration::try_from_secs_f64(secs).ok()
    });
    let exhausted = status == StatusCode::TOO_MANY_REQUESTS || remaining == Some(0);
    let reset_hint = reset.filter(|_| exhausted).map(|reset| {
        let at = UNIX_EPOCH + Duration::from_secs(reset);
        at.duration_since(server_now()).unwrap_or(Duration::ZERO)
    });
    let retry_after = header_hint
        .or(body_hint)
        .or(reset_after.filter(|_| exhausted))
        .or(reset_hint);
    (retry_after, rate_limit)
}

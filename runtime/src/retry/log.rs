//! The engine's log lines: one per retried failure (`WARN`), one when a
//! run gives up (`WARN`, or `DEBUG` for an error not worth retrying), all
//! under the target `rebuff::retry`, with the status and request id of the
//! error when it has them.

use core::fmt;
use core::time::Duration;

use super::StopReason;
use crate::{Advice, Retryable};

pub(super) fn log_retry<E: Retryable + fmt::Display>(
    attempt: u32,
    delay: Duration,
    advice: Advice,
    err: &E,
) {
    tracing::warn!(
        target: "rebuff::retry",
        attempt,
        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        advice = ?advice,
        status = err.retry_status().map(|s| s.as_u16()),
        request_id = err.request_id(),
        error = %err,
        "attempt failed; retrying"
    );
}

pub(super) fn log_give_up<E: Retryable + fmt::Display>(attempts: u32, reason: StopReason, err: &E) {
    if reason == StopReason::NotRetryable {
        tracing::debug!(
            target: "rebuff::retry",
            attempts,
            reason = %reason,
            error = %err,
            "not retrying"
        );
    } else {
        tracing::warn!(
            target: "rebuff::retry",
            attempts,
            reason = %reason,
            status = err.retry_status().map(|s| s.as_u16()),
            request_id = err.request_id(),
            error = %err,
            "giving up"
        );
    }
}

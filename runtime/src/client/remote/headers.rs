//! The headers of an error response: the server's request id, a code the
//! body lacks, `Retry-After` and the rate-limit state (`X-RateLimit-*`,
//! `X-Rate-Limit-*`, `RateLimit-*`, and the IETF `RateLimit` and
//! `RateLimit-Policy` fields), read in one pass over the map.

use core::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};

use super::names::{CODE_HEADERS, REQUEST_ID_HEADERS, REQUEST_ID_SUFFIX};
use crate::RateLimit;
use crate::retry::parse_retry_after;

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
    /// The IETF `RateLimit` field (`"default";r=0;t=17`).
    ratelimit: Option<&'h str>,
    /// The IETF `RateLimit-Policy` field (`"default";q=100;w=60`).
    ratelimit_policy: Option<&'h str>,
    /// `Retry-After` in milliseconds (`retry-after-ms`, as OpenAI and
    /// Azure send it beside or instead of `Retry-After`).
    retry_after_ms: Option<&'h str>,
    /// RFC 6750's `WWW-Authenticate: Bearer error="...", error_description="..."`.
    www_authenticate: Option<&'h str>,
    pub(super) request_id: Option<&'h str>,
    /// Rank of `request_id` in [`REQUEST_ID_HEADERS`] (one past it for a
    /// name that only ends like one).
    request_id_rank: usize,
    /// A code the body may lack (`x-amzn-errortype`).
    pub(super) code: Option<&'h str>,
    code_rank: usize,
}

impl<'h> Seen<'h> {
    pub(super) fn read(headers: &'h HeaderMap) -> Self {
        if headers.is_empty() {
            return Seen::default();
        }
        let mut seen = Seen {
            request_id_rank: usize::MAX,
            code_rank: usize::MAX,
            ..Seen::default()
        };
        for (name, value) in headers {
            let Ok(value) = value.to_str() else { continue };
            let value = value.trim();
            let slot = match name.as_str() {
                "content-type" => &mut seen.content_type,
                "retry-after" => &mut seen.retry_after,
                "date" => &mut seen.date,
                "x-ratelimit-limit" | "ratelimit-limit" | "x-rate-limit-limit" => &mut seen.limit,
                "x-ratelimit-remaining" | "ratelimit-remaining" | "x-rate-limit-remaining" => {
                    &mut seen.remaining
                }
                "x-ratelimit-reset" | "ratelimit-reset" | "x-rate-limit-reset" => &mut seen.reset,
                "x-ratelimit-reset-after" => &mut seen.reset_after,
                "ratelimit" => &mut seen.ratelimit,
                "ratelimit-policy" => &mut seen.ratelimit_policy,
                "retry-after-ms" | "x-ms-retry-after-ms" => &mut seen.retry_after_ms,
                "www-authenticate" => &mut seen.www_authenticate,
                other => {
                    if value.is_empty() {
                        continue;
                    }
                    // A vendor's own name (`x-dropbox-request-id`) ranks
                    // after every name the parser knows.
                    let rank = REQUEST_ID_HEADERS
                        .iter()
                        .position(|n| *n == other)
                        .or_else(|| {
                            other
                                .ends_with(REQUEST_ID_SUFFIX)
                                .then_some(REQUEST_ID_HEADERS.len())
                        });
                    if let Some(rank) = rank {
                        if rank < seen.request_id_rank {
                            seen.request_id = Some(value);
                            seen.request_id_rank = rank;
                        }
                    } else if let Some(rank) = CODE_HEADERS.iter().position(|n| *n == other) {
                        if rank < seen.code_rank {
                            // AWS: `ValidationException:http://internal...`.
                            seen.code = value.split(':').next().filter(|c| !c.is_empty());
                            seen.code_rank = rank;
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

impl Seen<'_> {
    /// The delay the server asked for in a header: `Retry-After` (seconds
    /// or a date, read against `clock`), else (absent, or unreadable)
    /// `retry-after-ms`.
    fn asked_delay(&self, clock: impl FnOnce() -> SystemTime) -> Option<Duration> {
        if let Some(delay) = self
            .retry_after
            .and_then(|value| parse_retry_after(value, clock()))
        {
            return Some(delay);
        }
        let millis: f64 = self.retry_after_ms?.parse().ok()?;
        Duration::try_from_secs_f64(millis / 1000.0).ok()
    }

    /// RFC 6750's error code and description, from a `Bearer` challenge
    /// (`WWW-Authenticate: Bearer error="invalid_token",
    /// error_description="The access token expired"`).
    pub(super) fn bearer_error(&self) -> (Option<String>, Option<String>) {
        let Some(challenge) = self.www_authenticate else {
            return (None, None);
        };
        let Some((scheme, params)) = challenge.split_once(' ') else {
            return (None, None);
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return (None, None);
        }
        let mut code = None;
        let mut description = None;
        for (name, value) in auth_params(params) {
            if name.eq_ignore_ascii_case("error") {
                code = Some(value);
            } else if name.eq_ignore_ascii_case("error_description") {
                description = Some(value);
            }
        }
        (
            code.filter(|c| !c.is_empty()),
            description.filter(|d| !d.is_empty()),
        )
    }
}

/// A challenge's `name=value` parameters, a value a token or a quoted
/// string (`\` escapes undone); reading stops at one that is neither.
fn auth_params(mut rest: &str) -> Vec<(&str, String)> {
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let Some((name, after)) = rest.split_once('=') else {
            break;
        };
        let name = name.trim();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((at, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = Some(at + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let Some(end) = end else { break };
            (value, &quoted[end..])
        } else {
            let end = after.find([',', ' ']).unwrap_or(after.len());
            (after[..end].to_owned(), &after[end..])
        };
        params.push((name, value));
        rest = next;
    }
    params
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
// Always inlined: its result, returned through memory, was copied out
// before the CPU had it stored, and it waited (3% of a small body's parse).
#[allow(clippy::inline_always)]
#[inline(always)]
pub(super) fn read_timing(
    status: StatusCode,
    seen: &Seen<'_>,
    body_hint: Option<Duration>,
    now: impl Fn() -> SystemTime,
) -> (Option<Duration>, Option<RateLimit>) {
    let limits = seen.limit.is_some()
        || seen.remaining.is_some()
        || seen.reset.is_some()
        || seen.reset_after.is_some()
        || seen.ratelimit.is_some();
    if !limits {
        // Most error responses say nothing of rate limits.
        let header_hint = seen.asked_delay(|| server_clock(seen, &now));
        return (header_hint.or(body_hint), None);
    }
    read_limits(status, seen, body_hint, now)
}

/// The server's clock, when its `Date` says, else ours: dates a server
/// sends (a `Retry-After` date, an epoch reset) are read against it, so
/// that a client whose clock is off waits what the server meant.
fn server_clock(seen: &Seen<'_>, now: impl Fn() -> SystemTime) -> SystemTime {
    seen.date
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .unwrap_or_else(now)
}

/// Whether the response is the refusal of a spent limit, whose reset is
/// when to retry: a 429, or a 403 with no quota remaining (as GitHub
/// answers). Any other error that happens to use up the quota was refused
/// for its own reason, and waiting for the reset would not change it.
fn refused_for_limit(status: StatusCode, remaining: Option<u64>) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && remaining == Some(0))
}

/// [`read_timing`] for a response that reports rate limits.
#[inline(never)]
fn read_limits(
    status: StatusCode,
    seen: &Seen<'_>,
    body_hint: Option<Duration>,
    now: impl Fn() -> SystemTime,
) -> (Option<Duration>, Option<RateLimit>) {
    let server_now = || server_clock(seen, &now);
    let field = seen.ratelimit.map(read_ratelimit_field);
    let limit = first_number(seen.limit).or_else(|| {
        field?;
        seen.ratelimit_policy
            .and_then(|p| param(p, &["q", "limit"]))
    });
    let remaining = first_number(seen.remaining).or_else(|| field?.remaining);
    let reset = seen
        .reset
        .and_then(|v| reset_epoch(v, server_now))
        .or_else(|| {
            let after = field?.reset?;
            let now = server_now().duration_since(UNIX_EPOCH).ok()?.as_secs();
            Some(now.saturating_add(after))
        });
    let rate_limit = (limit.is_some() || remaining.is_some()).then(|| RateLimit {
        limit: limit.unwrap_or(0),
        remaining: remaining.unwrap_or(0),
        reset: reset.unwrap_or(0),
    });

    let header_hint = seen.asked_delay(server_now);
    let reset_after = seen.reset_after.and_then(|v| {
        let secs: f64 = v.parse().ok()?;
        Duration::try_from_secs_f64(secs).ok()
    });
    let exhausted = refused_for_limit(status, remaining);
    let reset_hint = reset.filter(|_| exhausted).and_then(|reset| {
        // A reset past what the clock can hold is no hint.
        let at = UNIX_EPOCH.checked_add(Duration::from_secs(reset))?;
        Some(at.duration_since(server_now()).unwrap_or(Duration::ZERO))
    });
    let field_hint = field
        .filter(|f| refused_for_limit(status, f.remaining))
        .and_then(|f| f.reset)
        .map(Duration::from_secs)
        // As for an epoch reset: a wait past what the clock can hold is no
        // hint.
        .filter(|wait| server_now().checked_add(*wait).is_some());
    let retry_after = header_hint
        .or(body_hint)
        .or(field_hint)
        .or(reset_after.filter(|_| exhausted))
        .or(reset_hint);
    (retry_after, rate_limit)
}

/// What the IETF `RateLimit` field says: the least quota remaining among
/// its limits and, for that limit, the seconds until it resets.
#[derive(Clone, Copy)]
struct Field {
    remaining: Option<u64>,
    reset: Option<u64>,
}

/// Reads `"default";r=0;t=17` (a list of limits, each with `r` remaining
/// and `t` seconds to reset), or the older `limit=100, remaining=0,
/// reset=17`.
fn read_ratelimit_field(value: &str) -> Field {
    if value.contains("remaining=") || value.contains("reset=") {
        return Field {
            remaining: param(value, &["remaining"]),
            reset: param(value, &["reset"]),
        };
    }
    let mut best = Field {
        remaining: None,
        reset: None,
    };
    for item in value.split(',').take(16) {
        let remaining = param(item, &["r"]);
        let reset = param(item, &["t"]);
        // The exhausted limit (the least remaining) is the one to wait for;
        // among equals, the longest wait.
        let better = match (remaining, best.remaining) {
            (Some(r), Some(b)) => r < b || (r == b && reset > best.reset),
            (Some(_), None) => true,
            (None, _) => best.remaining.is_none() && reset > best.reset,
        };
        if better {
            best = Field { remaining, reset };
        }
    }
    best
}

/// The first integer parameter named one of `keys` in a structured-field
/// item or a `key=value` list.
fn param(value: &str, keys: &[&str]) -> Option<u64> {
    value.split([';', ',']).find_map(|part| {
        let (key, number) = part.trim().split_once('=')?;
        keys.contains(&key.trim())
            .then(|| number.trim().parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_gives_its_error_and_description() {
        let bearer = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("www-authenticate", value.parse().unwrap());
            let seen = Seen::read(&headers);
            seen.bearer_error()
        };
        assert_eq!(
            bearer(
                r#"Bearer realm="api", error="invalid_token", error_description="The \"token\" expired""#
            ),
            (
                Some("invalid_token".into()),
                Some(r#"The "token" expired"#.into())
            )
        );
        assert_eq!(
            bearer("bearer error=insufficient_scope, scope=\"read\""),
            (Some("insufficient_scope".into()), None)
        );
        // Another scheme, no error, or a broken quote: nothing.
        assert_eq!(bearer(r#"Basic realm="api""#), (None, None));
        assert_eq!(bearer(r#"Bearer realm="api""#), (None, None));
        assert_eq!(bearer(r#"Bearer error="unclosed"#), (None, None));
        assert_eq!(bearer("Bearer"), (None, None));
        for garbage in ["Bearer ===", "Bearer \",\"", "Bearer error=\"\\"] {
            let _ = bearer(garbage);
        }
    }

    #[test]
    fn retry_after_ms_is_read_when_retry_after_is_absent() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after-ms", "1500".parse().unwrap());
        let seen = Seen::read(&headers);
        assert_eq!(
            seen.asked_delay(SystemTime::now),
            Some(Duration::from_millis(1500))
        );
        headers.insert("retry-after", "3".parse().unwrap());
        let seen = Seen::read(&headers);
        assert_eq!(
            seen.asked_delay(SystemTime::now),
            Some(Duration::from_secs(3))
        );
        let mut bad = HeaderMap::new();
        bad.insert("retry-after-ms", "-5".parse().unwrap());
        assert_eq!(Seen::read(&bad).asked_delay(SystemTime::now), None);
        // A `Retry-After` that cannot be read leaves the milliseconds.
        bad.insert("retry-after-ms", "250".parse().unwrap());
        bad.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(
            Seen::read(&bad).asked_delay(SystemTime::now),
            Some(Duration::from_millis(250))
        );
    }

    fn timing(
        status: u16,
        pairs: &[(&'static str, &'static str)],
    ) -> (Option<Duration>, Option<RateLimit>) {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, value.parse().unwrap());
        }
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let seen = Seen::read(&headers);
        read_timing(StatusCode::from_u16(status).unwrap(), &seen, None, || now)
    }

    #[test]
    fn ietf_ratelimit_fields() {
        let (hint, limits) = timing(
            429,
            &[
                ("ratelimit", r#""default";r=0;t=17"#),
                ("ratelimit-policy", r#""default";q=100;w=60"#),
            ],
        );
        assert_eq!(hint, Some(Duration::from_secs(17)));
        let limits = limits.unwrap();
        assert_eq!(
            (limits.limit, limits.remaining, limits.reset),
            (100, 0, 1_700_000_017)
        );
        // The exhausted one of several limits, on a 403 (GitHub's answer
        // to a spent limit).
        let (hint, _) = timing(
            403,
            &[("ratelimit", r#""burst";r=5;t=1, "day";r=0;t=3600"#)],
        );
        assert_eq!(hint, Some(Duration::from_secs(3600)));
        // Quota left: no hint.
        assert_eq!(
            timing(200, &[("ratelimit", r#""default";r=9;t=17"#)]).0,
            None
        );
        // The older dictionary form.
        assert_eq!(
            timing(429, &[("ratelimit", "limit=100, remaining=0, reset=5")]).0,
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn resets_as_epoch_or_delta() {
        let epoch = timing(
            429,
            &[
                ("x-rate-limit-reset", "1700000060"),
                ("x-rate-limit-remaining", "0"),
            ],
        );
        assert_eq!(epoch.0, Some(Duration::from_secs(60)));
        let delta = timing(
            429,
            &[("ratelimit-reset", "30"), ("ratelimit-remaining", "0")],
        );
        assert_eq!(delta.0, Some(Duration::from_secs(30)));
        // Retry-After wins over everything.
        let both = timing(
            429,
            &[("retry-after", "5"), ("ratelimit", r#""d";r=0;t=17"#)],
        );
        assert_eq!(both.0, Some(Duration::from_secs(5)));
    }

    #[test]
    fn only_a_refusal_waits_for_the_reset() {
        let spent = [
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000060"),
        ];
        assert_eq!(timing(429, &spent).0, Some(Duration::from_secs(60)));
        assert_eq!(timing(403, &spent).0, Some(Duration::from_secs(60)));
        // A 404 or a 422 that used up the last of the quota was refused for
        // its own reason: no wait, so not made retryable by it.
        for status in [404, 422, 500] {
            let (hint, limits) = timing(status, &spent);
            assert_eq!(hint, None, "{status}");
            assert_eq!(limits.unwrap().remaining, 0, "{status}");
        }
        let field = [("ratelimit", r#""default";r=0;t=17"#)];
        assert_eq!(timing(404, &field).0, None);
        assert_eq!(timing(403, &field).0, Some(Duration::from_secs(17)));
    }

    #[test]
    fn resets_beyond_the_clock_are_no_hint_and_no_panic() {
        for value in [
            r#""d";r=0;t=18446744073709551615"#,
            r#""d";r=0;t=9223372036854775807"#,
            "remaining=0, reset=18446744073709551615",
        ] {
            let (hint, limits) = timing(429, &[("ratelimit", value)]);
            assert_eq!(hint, None, "{value}");
            assert_eq!(limits.unwrap().remaining, 0, "{value}");
        }
        // A far but real reset is still a hint (the engine caps it).
        let (hint, _) = timing(429, &[("ratelimit", r#""d";r=0;t=86400"#)]);
        assert_eq!(hint, Some(Duration::from_secs(86_400)));
        let (hint, _) = timing(
            429,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset-after", "1e300"),
            ],
        );
        assert_eq!(hint, None);
    }

    #[test]
    fn a_retry_after_date_is_read_against_the_servers_date() {
        // The server's clock is 4 minutes ahead of ours (`now` in
        // `timing`); its date is 30 s after its own now.
        let server = [
            ("date", "Tue, 14 Nov 2023 22:17:20 GMT"),
            ("retry-after", "Tue, 14 Nov 2023 22:17:50 GMT"),
        ];
        assert_eq!(timing(503, &server).0, Some(Duration::from_secs(30)));
        // With rate-limit headers too.
        let mut limited = server.to_vec();
        limited.push(("x-ratelimit-remaining", "0"));
        assert_eq!(timing(429, &limited).0, Some(Duration::from_secs(30)));
        // Without a `Date`, against our clock: 4.5 minutes.
        assert_eq!(timing(503, &server[1..]).0, Some(Duration::from_secs(270)));
    }

    #[test]
    fn code_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-amzn-errortype",
            "ValidationException:http://internal.amazon.com/"
                .parse()
                .unwrap(),
        );
        assert_eq!(Seen::read(&headers).code, Some("ValidationException"));
    }
}

//! The rate-limit headers of a decision, on every response: the
//! `X-RateLimit-Limit`, `-Remaining` and `-Reset` (epoch seconds) most APIs
//! send, and the IETF httpapi draft's `RateLimit-Policy` and `RateLimit`
//! fields; `Retry-After` on a refusal.

use http::{HeaderMap, HeaderName, HeaderValue};

use super::gcra::{Decision, Outcome, WindowState};
use super::plan::{Plan, Window};
use crate::{X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING, X_RATELIMIT_RESET};

/// `RateLimit-Policy`.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
/// `X-RateLimit-Scope: instance`: on the responses of an instance that
/// decides alone, at its share of the limits, while the store its fleet
/// shares is unreachable.
pub const X_RATELIMIT_SCOPE: HeaderName = HeaderName::from_static("x-ratelimit-scope");

pub(crate) use crate::rate_limit::Families;

/// What a plan's headers share across requests, built once.
#[derive(Debug, Clone)]
pub(crate) struct PlanHeaders {
    /// Each window's start of its `RateLimit` item: `"name";r=`.
    items: Vec<Vec<u8>>,
    /// `X-RateLimit-Limit` per window.
    limits: Vec<HeaderValue>,
    /// `RateLimit-Policy`, every window.
    policy: Option<HeaderValue>,
    /// Each window's period, in microseconds.
    periods: Vec<u64>,
}

impl PlanHeaders {
    pub(crate) fn new(plan: &Plan) -> Self {
        let names: Vec<String> = match plan.windows() {
            [_] => vec![plan.name().to_owned()],
            windows => unique(
                windows
                    .iter()
                    .map(|w| format!("{}-{}", plan.name(), unit(w)))
                    .collect(),
            ),
        };
        let policy = names
            .iter()
            .zip(plan.windows())
            .map(|(name, w)| format!("{};q={};w={}", quoted(name), w.quota(), w.period_secs()))
            .collect::<Vec<_>>()
            .join(", ");
        PlanHeaders {
            // Static below 1,000: cloned per response without a shared
            // count to update.
            limits: plan
                .windows()
                .iter()
                .map(|w| number(u64::from(w.quota())))
                .collect(),
            policy: HeaderValue::from_str(&policy)
                .ok()
                .filter(|_| !names.is_empty()),
            items: names
                .iter()
                .map(|name| format!("{};r=", quoted(name)).into_bytes())
                .collect(),
            periods: plan.windows().iter().map(Window::period_micros).collect(),
        }
    }
}

/// A window's name part: `second`, `minute`, `hour`, `day`, or its
/// seconds (`90s`), or its milliseconds when it is not whole seconds
/// (`1500ms`).
fn unit(window: &Window) -> String {
    let period = window.period();
    if period.subsec_nanos() != 0 {
        return format!("{}ms", period.as_millis().max(1));
    }
    match period.as_secs() {
        1 => "second".into(),
        60 => "minute".into(),
        3600 => "hour".into(),
        86_400 => "day".into(),
        secs => format!("{secs}s"),
    }
}

/// `names` with each repeat told apart by its rank (`-2`, `-3`): two
/// windows of one period would otherwise be one policy to a client.
fn unique(bases: Vec<String>) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(bases.len());
    for base in bases {
        let mut name = base.clone();
        let mut rank = 1;
        while names.contains(&name) {
            rank += 1;
            name = format!("{base}-{rank}");
        }
        names.push(name);
    }
    names
}

/// An sf-string: quoted, `"` and `\` escaped, anything else not printable
/// ASCII dropped.
fn quoted(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars().filter(|c| (' '..='~').contains(c)) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The window the `X-RateLimit-*` headers report: the one that refused;
/// of those with nothing left, the one that admits a request last (which
/// a refusal would name); else the one with the smallest share left.
pub(crate) fn binding(decision: &Decision, plan: &PlanHeaders) -> usize {
    if let Outcome::Limited { window, .. } = decision.outcome {
        return window;
    }
    let windows = decision.windows();
    let spent = windows
        .iter()
        .enumerate()
        .filter(|(_, w)| w.remaining == 0)
        .max_by_key(|&(i, w)| resets_after(w, plan, i));
    if let Some((i, _)) = spent {
        return i;
    }
    windows
        .iter()
        .enumerate()
        .min_by(|(_, a), (_, b)| {
            // remaining/quota, compared without division.
            (u64::from(a.remaining) * u64::from(b.quota))
                .cmp(&(u64::from(b.remaining) * u64::from(a.quota)))
        })
        .map_or(0, |(i, _)| i)
}

/// Microseconds to whole seconds, rounded up.
fn ceil_secs(micros: u64) -> u64 {
    micros.div_ceil(1_000_000)
}

/// When `window` (the `i`th of `plan`) counts again, in microseconds from
/// the decision: when it is full again, or, with nothing left, when it
/// admits its next request, which is what a refusal then would say. So a
/// client that waits for the announced reset once nothing remains is not
/// kept waiting for the whole window, and the 429 that may follow never
/// names an earlier time than the answer before it.
///
/// The window's quota is the decision's: an instance deciding alone while
/// its fleet's store is away has its share of the plan's.
fn resets_after(window: &WindowState, plan: &PlanHeaders, i: usize) -> u64 {
    if window.remaining > 0 {
        return window.reset_after;
    }
    let Some(&period) = plan.periods.get(i) else {
        return window.reset_after;
    };
    // Time to full, less the cost of all of the quota but one request.
    let (per_request, tolerance) = super::gcra::cost_of(period, window.quota);
    window
        .reset_after
        .saturating_sub(tolerance.saturating_sub(per_request))
}

/// When a refused caller may come back, in epoch seconds, and the
/// `Retry-After` that never comes before it.
pub(crate) fn refused_until(decision: &Decision, wait: u64) -> (u64, u64) {
    let reset = ceil_secs(decision.now.saturating_add(wait));
    let now_secs = decision.now / 1_000_000;
    (reset, reset.saturating_sub(now_secs).max(1))
}

/// The headers of `decision` into `out`, replacing any of the same name;
/// `Retry-After` only when the request is `refused`.
pub(crate) fn write(
    decision: &Decision,
    plan: &PlanHeaders,
    families: Families,
    refused: bool,
    out: &mut HeaderMap,
) {
    let windows = decision.windows();
    if windows.is_empty() {
        return;
    }
    let wait = match decision.outcome {
        Outcome::Admitted => None,
        Outcome::Limited { retry_after, .. } | Outcome::Blocked { retry_after } => {
            Some(retry_after)
        }
    };
    // One growth of the map, not one per header.
    out.reserve(
        3 * usize::from(families.legacy) + 2 * usize::from(families.ietf) + usize::from(refused),
    );
    if families.legacy {
        // A limited window a store of the user's own names out of range
        // reads as the first.
        let i = Some(binding(decision, plan))
            .filter(|&i| i < windows.len())
            .unwrap_or(0);
        let window = windows[i];
        let (remaining, reset) = match wait {
            Some(wait) => (0, refused_until(decision, wait).0),
            None => (
                window.remaining,
                ceil_secs(decision.now.saturating_add(resets_after(&window, plan, i))),
            ),
        };
        if let Some(limit) = plan.limits.get(i) {
            put(out, X_RATELIMIT_LIMIT, limit.clone());
        }
        put(out, X_RATELIMIT_REMAINING, number(u64::from(remaining)));
        put(out, X_RATELIMIT_RESET, number(reset));
    }
    if families.ietf {
        if let Some(policy) = &plan.policy {
            put(out, RATELIMIT_POLICY, policy.clone());
        }
        // A refusal spends what the refusing window has (every window,
        // for a blocked caller) until the wait is over; the others say
        // what they hold.
        let spent = |i: usize| match decision.outcome {
            Outcome::Admitted => false,
            Outcome::Blocked { .. } => true,
            Outcome::Limited { window, .. } => i == window.min(windows.len() - 1),
        };
        let mut digits = itoa::Buffer::new();
        let mut field = Vec::with_capacity(plan.items.iter().map(|item| item.len() + 28).sum());
        for (i, (window, item)) in windows.iter().zip(&plan.items).enumerate() {
            if i > 0 {
                field.extend_from_slice(b", ");
            }
            let (remaining, reset_after) = match wait {
                Some(wait) if spent(i) => (0, wait),
                _ => (window.remaining, resets_after(window, plan, i)),
            };
            field.extend_from_slice(item);
            field.extend_from_slice(digits.format(remaining).as_bytes());
            field.extend_from_slice(b";t=");
            field.extend_from_slice(digits.format(ceil_secs(reset_after)).as_bytes());
        }
        // The vector becomes the value's storage, uncopied.
        if let Ok(value) = HeaderValue::from_maybe_shared(bytes::Bytes::from(field)) {
            put(out, RATELIMIT, value);
        }
    }
    if decision.degraded {
        put(out, X_RATELIMIT_SCOPE, HeaderValue::from_static("instance"));
    }
    if let Some(wait) = wait.filter(|_| refused) {
        let (_, retry_after) = refused_until(decision, wait);
        put(out, http::header::RETRY_AFTER, number(retry_after));
    }
}

/// `value` into `out`, replacing any of `name`: one copy of the map's
/// insertion for every header here.
#[inline(never)]
fn put(out: &mut HeaderMap, name: HeaderName, value: HeaderValue) {
    out.insert(name, value);
}

/// A number as a header value: below 1,000 (most counts and waits) a
/// copy of one of a table built at compile time (no allocation, no shared
/// count, no first-use check).
fn number(n: u64) -> HeaderValue {
    match usize::try_from(n).ok().and_then(|small| SMALL.get(small)) {
        Some(value) => value.clone(),
        None => large_number(n),
    }
}

/// A number of 1,000 or more as a header value, in a buffer of its own.
#[inline(never)]
fn large_number(n: u64) -> HeaderValue {
    let mut digits = itoa::Buffer::new();
    HeaderValue::from_maybe_shared(bytes::Bytes::copy_from_slice(digits.format(n).as_bytes()))
        .unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// 0 to 999 as header values.
static SMALL: [HeaderValue; 1000] = small_values();

// Evaluated at compile time only, for the static above.
#[allow(clippy::large_stack_arrays)]
const fn small_values() -> [HeaderValue; 1000] {
    let mut values = [const { HeaderValue::from_static("0") }; 1000];
    let mut n = 0;
    while n < 1000 {
        let len = if n >= 100 {
            3
        } else if n >= 10 {
            2
        } else {
            1
        };
        let (digits, _) = DIGITS[n].split_at(len);
        if let Ok(text) = core::str::from_utf8(digits) {
            // The placeholder is static: forgetting it frees nothing.
            core::mem::forget(core::mem::replace(
                &mut values[n],
                HeaderValue::from_static(text),
            ));
        }
        n += 1;
    }
    values
}

/// The digits of 0 to 999, left-aligned.
static DIGITS: [[u8; 3]; 1000] = small_numbers();

// Each digit is below 10.
#[allow(clippy::cast_possible_truncation)]
const fn small_numbers() -> [[u8; 3]; 1000] {
    let mut table = [[b'0'; 3]; 1000];
    let mut n = 0;
    while n < 1000 {
        let digits = [
            b'0' + (n / 100) as u8,
            b'0' + (n / 10 % 10) as u8,
            b'0' + (n % 10) as u8,
        ];
        table[n] = if n >= 100 {
            digits
        } else if n >= 10 {
            [digits[1], digits[2], b'0']
        } else {
            [digits[2], b'0', b'0']
        };
        n += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::gcra::{self, CallerState};

    const NOW: u64 = 1_699_564_800_300_000;

    fn headers(plan: &Plan, decision: &Decision) -> HeaderMap {
        let mut out = HeaderMap::new();
        write(
            decision,
            &PlanHeaders::new(plan),
            Families {
                legacy: true,
                ietf: true,
            },
            true,
            &mut out,
        );
        out
    }

    #[test]
    fn an_admitted_request_reports_its_window() {
        let plan = Plan::free();
        let mut state = CallerState::default();
        let mut d = gcra::decide(&mut state, plan.windows(), None, NOW);
        for _ in 0..17 {
            d = gcra::decide(&mut state, plan.windows(), None, NOW);
        }
        let h = headers(&plan, &d);
        assert_eq!(h["x-ratelimit-limit"], "60");
        assert_eq!(h["x-ratelimit-remaining"], "42");
        // 18 requests used, back one a second: full in 18 s.
        assert_eq!(h["x-ratelimit-reset"], (NOW / 1_000_000 + 19).to_string());
        assert_eq!(h["ratelimit-policy"], r#""free";q=60;w=60"#);
        assert_eq!(h["ratelimit"], r#""free";r=42;t=18"#);
        assert!(!h.contains_key("retry-after"));
    }

    #[test]
    fn a_refusal_says_when_to_come_back_and_retry_after_is_never_earlier() {
        let plan = Plan::new("tiny").window(Window::per_minute(1));
        let mut state = CallerState::default();
        let _ = gcra::decide(&mut state, plan.windows(), None, NOW);
        let refused = gcra::decide(&mut state, plan.windows(), None, NOW);
        let h = headers(&plan, &refused);
        let reset: u64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
        let retry_after: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
        assert_eq!(h["x-ratelimit-remaining"], "0");
        // A client waiting Retry-After from the current second is past the
        // announced reset.
        assert!(
            NOW / 1_000_000 + retry_after >= reset,
            "{retry_after} vs {reset}"
        );
        assert!(reset * 1_000_000 >= NOW + 60_000_000 - 1_000_000);
        assert_eq!(h["ratelimit"], r#""tiny";r=0;t=60"#);
    }

    /// With requests left, the reset is when the window is full again; with
    /// none, when it admits the next one: what the refusal that may follow
    /// says too, never later.
    #[test]
    fn with_nothing_left_the_reset_is_when_the_next_request_is_admitted() {
        let plan = Plan::new("tiny").window(Window::per_minute(3));
        let mut state = CallerState::default();
        let _ = gcra::decide(&mut state, plan.windows(), None, NOW);
        let second = headers(&plan, &gcra::decide(&mut state, plan.windows(), None, NOW));
        let third = headers(&plan, &gcra::decide(&mut state, plan.windows(), None, NOW));
        let refused = headers(&plan, &gcra::decide(&mut state, plan.windows(), None, NOW));
        let secs = NOW / 1_000_000;
        // Two used, one back every 20 s: full in 40 s.
        assert_eq!(second["x-ratelimit-remaining"], "1");
        assert_eq!(second["x-ratelimit-reset"], (secs + 41).to_string());
        assert_eq!(second["ratelimit"], r#""tiny";r=1;t=40"#);
        // None left: the next is admitted in 20 s, as the 429 says.
        assert_eq!(third["x-ratelimit-remaining"], "0");
        assert_eq!(third["x-ratelimit-reset"], (secs + 21).to_string());
        assert_eq!(third["ratelimit"], r#""tiny";r=0;t=20"#);
        assert!(refused.contains_key("retry-after"));
        assert_eq!(refused["x-ratelimit-reset"], third["x-ratelimit-reset"]);
        assert_eq!(refused["ratelimit"], third["ratelimit"]);
        // Coming back at that reset, the caller is admitted.
        let at_reset = (secs + 21) * 1_000_000;
        let back = gcra::decide(&mut state, plan.windows(), None, at_reset);
        assert_eq!(back.outcome, gcra::Outcome::Admitted);
    }

    /// An instance deciding alone (its fleet's store away) has its share of
    /// the plan's quota: its reset is that share's wait, not the plan's.
    #[test]
    fn deciding_alone_the_reset_is_the_shares() {
        let plan = Plan::new("tiny").window(Window::per_minute(3));
        // One instance of three: one request a minute.
        let share = [Window::per_minute(1)];
        let mut state = CallerState::default();
        let alone = gcra::decide(&mut state, &share, None, NOW);
        let h = headers(&plan, &alone);
        assert_eq!(h["x-ratelimit-remaining"], "0");
        assert_eq!(h["x-ratelimit-reset"], (NOW / 1_000_000 + 61).to_string());
        let refused = headers(&plan, &gcra::decide(&mut state, &share, None, NOW));
        assert_eq!(refused["x-ratelimit-reset"], h["x-ratelimit-reset"]);
    }

    /// With several windows spent, the legacy headers report the one that
    /// admits a request last, as the refusal that may follow does.
    #[test]
    fn of_several_spent_windows_the_latest_to_admit_is_reported() {
        let plan = Plan::new("metered")
            .window(Window::per_minute(10))
            .window(Window::per_hour(10));
        let mut state = CallerState::default();
        let mut last = gcra::decide(&mut state, plan.windows(), None, NOW);
        for _ in 1..10 {
            last = gcra::decide(&mut state, plan.windows(), None, NOW);
        }
        assert_eq!(last.outcome, gcra::Outcome::Admitted);
        let admitted = headers(&plan, &last);
        let refused = headers(&plan, &gcra::decide(&mut state, plan.windows(), None, NOW));
        assert_eq!(admitted["x-ratelimit-limit"], "10");
        // The hour's: one back every 6 minutes.
        let secs = NOW / 1_000_000;
        assert_eq!(admitted["x-ratelimit-reset"], (secs + 361).to_string());
        assert_eq!(refused["x-ratelimit-reset"], admitted["x-ratelimit-reset"]);
    }

    #[test]
    fn several_windows_each_have_a_policy() {
        let plan = Plan::new("metered")
            .window(Window::per_second(10))
            .window(Window::per_day(1000));
        let mut state = CallerState::default();
        let d = gcra::decide(&mut state, plan.windows(), None, NOW);
        let h = headers(&plan, &d);
        assert_eq!(
            h["ratelimit-policy"],
            r#""metered-second";q=10;w=1, "metered-day";q=1000;w=86400"#
        );
        // 9 of 10 left is a smaller share than 999 of 1000: the second
        // window binds.
        assert_eq!(h["x-ratelimit-limit"], "10");
        // Refused by the second's window: the day's still says what is left.
        let mut state = CallerState::default();
        let plan = Plan::new("metered")
            .window(Window::per_second(1))
            .window(Window::per_day(1000));
        let _ = gcra::decide(&mut state, plan.windows(), None, NOW);
        let refused = gcra::decide(&mut state, plan.windows(), None, NOW);
        let h = headers(&plan, &refused);
        assert_eq!(
            h["ratelimit"],
            r#""metered-second";r=0;t=1, "metered-day";r=999;t=87"#
        );
        assert_eq!(h["x-ratelimit-remaining"], "0");
        for n in [0, 7, 10, 99, 100, 999, 1000, 1_700_000_000, u64::MAX] {
            assert_eq!(number(n), n.to_string().as_str());
        }
        assert_eq!(quoted("a\"b"), r#""a\"b""#);
    }

    #[test]
    fn windows_of_one_period_get_names_of_their_own() {
        use core::time::Duration;
        assert_eq!(unit(&Window::new(3, Duration::from_secs(90))), "90s");
        let plan = Plan::new("p")
            .window(Window::per_second(10))
            .window(Window::new(100, Duration::from_secs(1)))
            .window(Window::new(5, Duration::from_millis(1500)))
            .window(Window::per_second(1));
        let mut state = CallerState::default();
        let d = gcra::decide(&mut state, plan.windows(), None, NOW);
        let h = headers(&plan, &d);
        assert_eq!(
            h["ratelimit-policy"],
            concat!(
                r#""p-second";q=10;w=1, "p-second-2";q=100;w=1, "p-1500ms";q=5;w=2, "#,
                r#""p-second-3";q=1;w=1"#
            )
        );
        let field = h["ratelimit"].to_str().unwrap();
        for name in ["p-second", "p-second-2", "p-second-3", "p-1500ms"] {
            assert!(field.contains(&format!("\"{name}\";r=")), "{name}: {field}");
        }
    }
}

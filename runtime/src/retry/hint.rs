use core::time::Duration;
use std::time::SystemTime;

/// Longer header values are not a delay or a date.
const MAX_LEN: usize = 64;

/// Reads a `Retry-After` value: delta seconds (`"120"`, also fractional
/// `"1.5"` as some servers send) or an HTTP-date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`), relative to `now`.
///
/// Never panics. A date in the past is a zero delay; a number too large for a
/// `Duration` saturates (the retry engine then clamps it to
/// [`Policy::max_retry_after`](crate::Policy::max_retry_after)); anything
/// else (negative, empty, garbage, or longer than 64 characters) is
/// `None`.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use rebuff::retry::parse_retry_after;
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_445_412_450);
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(30)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim_matches(|c: char| c.is_ascii_whitespace());
    if value.is_empty() || value.len() > MAX_LEN {
        return None;
    }
    if let Some(delay) = parse_seconds(value) {
        return Some(delay);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Non-negative decimal seconds, whole or fractional, saturating.
fn parse_seconds(value: &str) -> Option<Duration> {
    let (whole, fraction) = match value.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (value, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return None;
    }
    let secs = whole.parse::<u64>().unwrap_or(u64::MAX);
    let nanos = match fraction {
        Some(fraction) => {
            // The first nine digits are nanoseconds; the rest is below resolution.
            let mut nanos = 0u32;
            for (i, b) in fraction.bytes().take(9).enumerate() {
                nanos += u32::from(b - b'0') * 10u32.pow(8 - u32::try_from(i).unwrap_or(8));
            }
            nanos
        }
        None => 0,
    };
    Some(Duration::from_secs(secs).saturating_add(Duration::from_nanos(u64::from(nanos))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_445_412_450)
    }

    #[test]
    fn delta_seconds() {
        assert_eq!(parse_retry_after("0", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after(" 32 ", now()),
            Some(Duration::from_secs(32))
        );
        assert_eq!(
            parse_retry_after("1.5", now()),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("0.0001234567891", now()),
            Some(Duration::from_nanos(123_456))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now()),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn dates_past_and_future() {
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn garbage_is_none() {
        for value in [
            "",
            "-5",
            "+5",
            "1e3",
            "5s",
            "1.",
            ".5",
            "soon",
            "1.5.2",
            "Wed, 99 Oct 2015 07:28:00 GMT",
            &"9".repeat(100),
        ] {
            assert_eq!(parse_retry_after(value, now()), None, "{value:?}");
        }
    }
}

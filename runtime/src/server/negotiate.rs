//! Content negotiation between the API's JSON envelope and RFC 9457
//! problem details, by the `Accept` header (RFC 9110, section 12.5.1).
//!
//! Each of the two representations, `application/json` and
//! `application/problem+json`, gets the quality of the most specific media
//! range that matches it: `type/subtype` over `type/*` over `*/*`, and of
//! two such ranges alike, the one with parameters (so `application/json`
//! over `application/*;charset=utf-8`). Parameters other than `q` must be
//! ones the representation has: `charset=utf-8` (JSON is UTF-8), nothing
//! else. Names compare without regard to case. A range no representation
//! matches gives it quality 0; an item that does not parse (a range that
//! is not `type/subtype`, a `q` outside 0 to 1 or with more than three
//! decimals) is ignored, as if the client had not sent it.
//!
//! Problem details are served only when the client prefers them: their
//! quality is above the envelope's. An equal preference (`*/*`, no
//! `Accept` at all) keeps the API's own envelope, and so does a header
//! that accepts neither: the server does not answer an error with 406.
//!
//! ```
//! use rebuff::server::negotiate::prefers_problem;
//!
//! assert!(prefers_problem([b"application/problem+json".as_slice()]));
//! assert!(!prefers_problem([b"application/json, application/problem+json;q=0.5".as_slice()]));
//! assert!(!prefers_problem([b"application/problem+json;q=0".as_slice()]));
//! assert!(!prefers_problem([b"*/*".as_slice()]));
//! ```

/// The representations an error can be sent in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Representation {
    Json,
    Problem,
}

impl Representation {
    const fn subtype(self) -> &'static str {
        match self {
            Representation::Json => "json",
            Representation::Problem => "problem+json",
        }
    }
}

/// Whether the client, by the `Accept` header values in `accept` (all of
/// them, in order), prefers problem details to the JSON envelope.
pub fn prefers_problem<'a>(accept: impl IntoIterator<Item = &'a [u8]>) -> bool {
    let mut json = Best::default();
    let mut problem = Best::default();
    let mut any = false;
    for value in accept {
        let Ok(value) = core::str::from_utf8(value) else {
            continue;
        };
        for item in split_items(value) {
            let Some(range) = MediaRange::parse(item) else {
                continue;
            };
            any = true;
            json.offer(&range, Representation::Json);
            problem.offer(&range, Representation::Problem);
        }
    }
    if !any {
        return false;
    }
    problem.quality() > json.quality()
}

/// The most specific range seen so far that matches one representation.
#[derive(Default)]
struct Best {
    /// (specificity, quality in thousandths)
    found: Option<(u8, u16)>,
}

impl Best {
    fn offer(&mut self, range: &MediaRange<'_>, representation: Representation) {
        let Some(specificity) = range.matches(representation) else {
            return;
        };
        if self.found.is_none_or(|(best, _)| specificity > best) {
            self.found = Some((specificity, range.quality));
        }
    }

    fn quality(&self) -> u16 {
        self.found.map_or(0, |(_, quality)| quality)
    }
}

/// One item of an `Accept` header.
struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    /// Thousandths: 1000 is `q=1`.
    quality: u16,
    /// Parameters other than `q` (and accept-extensions after it).
    params: Vec<(&'a str, &'a str)>,
}

impl<'a> MediaRange<'a> {
    fn parse(item: &'a str) -> Option<Self> {
        let mut parts = split_params(item);
        let range = parts.next()?.trim();
        let (kind, subtype) = range.split_once('/')?;
        if !is_token(kind) || !is_token(subtype) || (kind == "*" && subtype != "*") {
            return None;
        }
        let mut quality = 1000;
        let mut params = Vec::new();
        let mut after_q = false;
        for param in parts {
            let param = param.trim();
            if param.is_empty() {
                continue;
            }
            let (name, value) = param.split_once('=')?;
            let (name, value) = (name.trim(), unquote(value.trim()));
            if !is_token(name) {
                return None;
            }
            if name.eq_ignore_ascii_case("q") {
                quality = parse_quality(value)?;
                after_q = true;
            } else if !after_q {
                // After `q` come accept-extensions, which do not narrow the
                // range.
                params.push((name, value));
            }
        }
        Some(MediaRange {
            kind,
            subtype,
            quality,
            params,
        })
    }

    /// How specifically this range names `representation`, if it does:
    /// the range first (0 for `*/*`, 2 for `application/*`, 4 for the
    /// exact type), then its parameters (one more with them). Parameters
    /// only break a tie between ranges: `application/*;charset=utf-8` is
    /// less specific than `application/json`.
    fn matches(&self, representation: Representation) -> Option<u8> {
        let params_fit = self.params.iter().all(|(name, value)| {
            name.eq_ignore_ascii_case("charset") && value.eq_ignore_ascii_case("utf-8")
        });
        if !params_fit {
            return None;
        }
        let range = if self.kind == "*" {
            0
        } else if !self.kind.eq_ignore_ascii_case("application") {
            return None;
        } else if self.subtype == "*" {
            2
        } else if self.subtype.eq_ignore_ascii_case(representation.subtype()) {
            4
        } else {
            return None;
        };
        Some(range + u8::from(!self.params.is_empty()))
    }
}

/// `q`: `0` to `1` with at most three decimals, in thousandths.
fn parse_quality(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, digit) in fraction.bytes().enumerate() {
        thousandths += u16::from(digit - b'0') * [100, 10, 1][i];
    }
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// RFC 9110 `token` characters.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// The comma-separated items of a header value, commas inside quoted
/// strings kept.
fn split_items(value: &str) -> impl Iterator<Item = &str> {
    split_outside_quotes(value, b',')
}

/// A media range and its `;`-separated parameters.
fn split_params(item: &str) -> impl Iterator<Item = &str> {
    split_outside_quotes(item, b';')
}

fn split_outside_quotes(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    core::iter::from_fn(move || {
        let current = rest?;
        let mut quoted = false;
        let mut escaped = false;
        for (i, b) in current.bytes().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                _ if b == separator && !quoted => {
                    rest = Some(&current[i + 1..]);
                    return Some(&current[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few cases; the server tests run a longer table through both
    /// frameworks.
    const TABLE: &[(&str, bool)] = &[
        ("application/problem+json", true),
        ("application/problem+json;q=0", false),
        ("application/json, application/problem+json;q=0.5", false),
        ("*/*", false),
        ("application/problem+json;version=2", false),
        (
            "application/problem+json;q=\"0.5\", application/json;q=0.4",
            true,
        ),
        // A range with parameters is not more specific than a type: the
        // refusal of problem details holds, in either order.
        (
            "application/*;charset=utf-8, application/json;charset=utf-8;q=0, application/problem+json;q=0",
            false,
        ),
        ("application/*;charset=utf-8, application/json;q=0.2", true),
        ("application/json;q=0.2, application/*;charset=utf-8", true),
        ("*/*;charset=utf-8, application/*;q=0.5", false),
    ];

    #[test]
    fn negotiation_table() {
        for (accept, problem) in TABLE {
            assert_eq!(
                prefers_problem([accept.as_bytes()]),
                *problem,
                "Accept: {accept}"
            );
        }
    }

    #[test]
    fn several_header_lines_count_as_one_list() {
        assert!(prefers_problem([
            b"application/json;q=0.1".as_slice(),
            b"application/problem+json".as_slice()
        ]));
        assert!(!prefers_problem(core::iter::empty()));
        assert!(!prefers_problem([b"\xff\xfe".as_slice()]));
    }

    #[test]
    fn qualities() {
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("0.5"), Some(500));
        assert_eq!(parse_quality("0.05"), Some(50));
        assert_eq!(parse_quality("1.001"), None);
        assert_eq!(parse_quality("-0"), None);
        assert_eq!(parse_quality(""), None);
    }
}

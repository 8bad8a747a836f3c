//! The list of every error a type can be, as API guides publish it.
//!
//! The derive fills [`ApiError::CATALOG`] with one [`Entry`] per variant:
//! code, status, message template, whether it is retried, and the variant's
//! doc comment. [`markdown`] prints it as the table an API's docs show.
//!
//! ```
//! #[derive(Debug, thiserror::Error, rebuff::ApiError)]
//! #[api(code_case = "SCREAMING_SNAKE_CASE")]
//! enum LeadError {
//!     /// No lead has this id in the workspace.
//!     #[error("lead {lead_id} not found")]
//!     #[api(status = 404, message = "Lead not found")]
//!     LeadNotFound { lead_id: String },
//!     /// Too many requests in the last minute.
//!     #[error("rate limited")]
//!     #[api(status = 429, message = "Rate limit exceeded")]
//!     RateLimited,
//! }
//!
//! assert_eq!(
//!     rebuff::catalog::markdown::<LeadError>(),
//!     "\
//! | Code | Status | Message | Retry? | Description |
//! |---|---|---|---|---|
//! | `LEAD_NOT_FOUND` | 404 Not Found | Lead not found | No | No lead has this id in the workspace. |
//! | `RATE_LIMITED` | 429 Too Many Requests | Rate limit exceeded | Yes | Too many requests in the last minute. |
//! ",
//! );
//! ```

use core::fmt::Write as _;

use crate::ApiError;

/// One error of a type's catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// The variant (or struct) name, as written in Rust.
    pub name: &'static str,
    /// The machine-readable code.
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The public message as written in `message = "..."` (with its
    /// `{field}` placeholders), else the `#[error("...")]` text of a 4xx,
    /// else the reason phrase of a 5xx; empty if none is known.
    pub message: &'static str,
    /// Whether a client should retry this error.
    pub retryable: bool,
    /// The doc comment of the variant.
    pub description: &'static str,
    /// For a `transparent` variant, the catalog of the type it delegates to
    /// (the entry's own code, status and message are then empty).
    pub delegate: Option<&'static [Entry]>,
}

impl Entry {
    /// An entry of a variant with its own code.
    #[must_use]
    pub const fn new(
        name: &'static str,
        code: &'static str,
        status: u16,
        message: &'static str,
        retryable: bool,
        description: &'static str,
    ) -> Self {
        Self {
            name,
            code,
            status,
            message,
            retryable,
            description,
            delegate: None,
        }
    }

    /// An entry of a variant that delegates to another type's catalog.
    #[must_use]
    pub const fn transparent(
        name: &'static str,
        description: &'static str,
        delegate: &'static [Entry],
    ) -> Self {
        Self {
            name,
            code: "",
            status: 0,
            message: "",
            retryable: false,
            description,
            delegate: Some(delegate),
        }
    }
}

/// Transparent variants are followed this deep, which no real error type
/// reaches; it keeps a catalog of mutually transparent types finite.
const MAX_DEPTH: usize = 16;

/// Every entry of `E`'s catalog, with `transparent` variants replaced by
/// the entries of the type they delegate to.
#[must_use]
pub fn entries<E: ApiError>() -> Vec<&'static Entry> {
    fn walk(entries: &'static [Entry], depth: usize, out: &mut Vec<&'static Entry>) {
        for entry in entries {
            match entry.delegate {
                Some(inner) if depth < MAX_DEPTH => walk(inner, depth + 1, out),
                Some(_) => {}
                None => out.push(entry),
            }
        }
    }
    let mut out = Vec::new();
    walk(E::CATALOG, 0, &mut out);
    out
}

/// The catalog of `E` as a Markdown table: code, status, message, whether
/// to retry, description.
#[must_use]
pub fn markdown<E: ApiError>() -> String {
    let mut out =
        String::from("| Code | Status | Message | Retry? | Description |\n|---|---|---|---|---|\n");
    for entry in entries::<E>() {
        let reason = http::StatusCode::from_u16(entry.status)
            .ok()
            .and_then(|status| status.canonical_reason())
            .unwrap_or("");
        let _ = writeln!(
            out,
            "| `{}` | {} {} | {} | {} | {} |",
            entry.code.replace('`', "'"),
            entry.status,
            reason,
            cell(entry.message),
            if entry.retryable { "Yes" } else { "No" },
            cell(entry.description),
        );
    }
    out
}

/// Escapes what would break a table cell: pipes and line breaks.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

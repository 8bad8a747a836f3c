//! The list of every error a type can be, as API guides publish it.
//!
//! The derive fills [`ApiError::CATALOG`] with one [`Entry`] per variant:
//! code, status, message template, whether it is retried, and the variant's
//! doc comment. [`markdown`] prints it as the table an API's docs show,
//! [`json`] as data, and (feature `openapi`) [`openapi`] as an OpenAPI
//! document of reusable responses.
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
    /// The server's rejection this variant answers
    /// (`#[api(rejection = ...)]`), if any.
    pub answers: Option<crate::RejectionKind>,
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
            answers: None,
        }
    }

    /// This entry, answering the server's rejection `kind`.
    #[must_use]
    pub const fn answering(mut self, kind: crate::RejectionKind) -> Self {
        self.answers = Some(kind);
        self
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
            answers: None,
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

/// The catalog of `E` as JSON: an array of one object per error, with its
/// `name`, `code`, `status`, `message`, `retryable` and `description`.
///
/// ```
/// #[derive(Debug, thiserror::Error, rebuff::ApiError)]
/// enum LeadError {
///     /// No lead has this id.
///     #[error("lead not found")]
///     #[api(status = 404, message = "Lead not found")]
///     LeadNotFound,
/// }
///
/// assert_eq!(
///     rebuff::catalog::json::<LeadError>(),
///     r#"[{"name":"LeadNotFound","code":"lead_not_found","status":404,"message":"Lead not found","retryable":false,"description":"No lead has this id."}]"#,
/// );
/// ```
#[must_use]
pub fn json<E: ApiError>() -> String {
    let entries: Vec<Json<'_>> = entries::<E>().into_iter().map(Json).collect();
    serde_json::to_string(&entries).unwrap_or_else(|_| "[]".to_owned())
}

/// An entry as the JSON catalog writes it, keys in a fixed order.
struct Json<'a>(&'a Entry);

impl serde::Serialize for Json<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let entry = self.0;
        let mut map = serializer.serialize_map(Some(6))?;
        map.serialize_entry("name", entry.name)?;
        map.serialize_entry("code", entry.code)?;
        map.serialize_entry("status", &entry.status)?;
        map.serialize_entry("message", entry.message)?;
        map.serialize_entry("retryable", &entry.retryable)?;
        map.serialize_entry("description", entry.description)?;
        map.end()
    }
}

/// The catalog of `E` as an OpenAPI 3.1 document: one reusable response
/// per status in `components.responses` (named `Type.404`: the type's
/// name without its path, generic arguments joined with `_`), listing every
/// error of `E` and every server rejection in `E`'s style with an example
/// each, and the body schema of each code in `components.schemas`
/// (`Type.CODE`); its description is the [`markdown`] table.
///
/// Names leave out the module path, so two types of one name from different
/// modules (`users::Error`, `orders::Error`) name their components alike:
/// documents of both merged into one keep only the first's (utoipa's
/// `OpenApi::merge` keeps what is there). Give such types names of their
/// own, or keep their catalogs apart.
///
/// ```
/// #[derive(Debug, thiserror::Error, rebuff::ApiError)]
/// enum LeadError {
///     #[error("lead not found")]
///     #[api(status = 404, message = "Lead not found")]
///     LeadNotFound,
/// }
///
/// let doc = rebuff::catalog::openapi::<LeadError>();
/// let components = doc.components.unwrap();
/// assert!(components.responses.contains_key("LeadError.404"));
/// assert!(components.schemas.contains_key("LeadError.lead_not_found"));
/// ```
#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
#[must_use]
pub fn openapi<E: crate::openapi::Documented>() -> utoipa::openapi::OpenApi {
    crate::openapi::catalog::<E>()
}

/// Escapes what would break a table cell: pipes and line breaks.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

//! The error statuses `http::StatusCode` names, with their reason phrases,
//! and the `Status` a `status = ...` key holds: read from a number or a
//! constant, and written as a `StatusCode`.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{Expr, ExprLit, Ident, Lit};

use crate::ctxt::Ctxt;
use crate::suggest::closest;

/// (code, constant of `http::StatusCode`, reason phrase)
pub(crate) const STATUSES: &[(u16, &str, &str)] = &[
    (400, "BAD_REQUEST", "Bad Request"),
    (401, "UNAUTHORIZED", "Unauthorized"),
    (402, "PAYMENT_REQUIRED", "Payment Required"),
    (403, "FORBIDDEN", "Forbidden"),
    (404, "NOT_FOUND", "Not Found"),
    (405, "METHOD_NOT_ALLOWED", "Method Not Allowed"),
    (406, "NOT_ACCEPTABLE", "Not Acceptable"),
    (
        407,
        "PROXY_AUTHENTICATION_REQUIRED",
        "Proxy Authentication Required",
    ),
    (408, "REQUEST_TIMEOUT", "Request Timeout"),
    (409, "CONFLICT", "Conflict"),
    (410, "GONE", "Gone"),
    (411, "LENGTH_REQUIRED", "Length Required"),
    (412, "PRECONDITION_FAILED", "Precondition Failed"),
    (413, "PAYLOAD_TOO_LARGE", "Payload Too Large"),
    (414, "URI_TOO_LONG", "URI Too Long"),
    (415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type"),
    (416, "RANGE_NOT_SATISFIABLE", "Range Not Satisfiable"),
    (417, "EXPECTATION_FAILED", "Expectation Failed"),
    (418, "IM_A_TEAPOT", "I'm a teapot"),
    (421, "MISDIRECTED_REQUEST", "Misdirected Request"),
    (422, "UNPROCESSABLE_ENTITY", "Unprocessable Entity"),
    (423, "LOCKED", "Locked"),
    (424, "FAILED_DEPENDENCY", "Failed Dependency"),
    (426, "UPGRADE_REQUIRED", "Upgrade Required"),
    (428, "PRECONDITION_REQUIRED", "Precondition Required"),
    (429, "TOO_MANY_REQUESTS", "Too Many Requests"),
    (
        431,
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
        "Request Header Fields Too Large",
    ),
    (
        451,
        "UNAVAILABLE_FOR_LEGAL_REASONS",
        "Unavailable For Legal Reasons",
    ),
    (500, "INTERNAL_SERVER_ERROR", "Internal Server Error"),
    (501, "NOT_IMPLEMENTED", "Not Implemented"),
    (502, "BAD_GATEWAY", "Bad Gateway"),
    (503, "SERVICE_UNAVAILABLE", "Service Unavailable"),
    (504, "GATEWAY_TIMEOUT", "Gateway Timeout"),
    (
        505,
        "HTTP_VERSION_NOT_SUPPORTED",
        "HTTP Version Not Supported",
    ),
    (506, "VARIANT_ALSO_NEGOTIATES", "Variant Also Negotiates"),
    (507, "INSUFFICIENT_STORAGE", "Insufficient Storage"),
    (508, "LOOP_DETECTED", "Loop Detected"),
    (510, "NOT_EXTENDED", "Not Extended"),
    (
        511,
        "NETWORK_AUTHENTICATION_REQUIRED",
        "Network Authentication Required",
    ),
];

pub(crate) fn by_code(code: u16) -> Option<&'static (u16, &'static str, &'static str)> {
    STATUSES.iter().find(|s| s.0 == code)
}

pub(crate) fn by_name(name: &str) -> Option<&'static (u16, &'static str, &'static str)> {
    STATUSES.iter().find(|s| s.1 == name)
}

/// Whether a client should retry a status by default: the transient ones.
pub(crate) fn retryable(code: u16) -> bool {
    matches!(code, 408 | 429 | 500 | 502 | 503 | 504)
}

/// The status a `status = ...` key holds.
#[derive(Clone)]
pub(crate) struct Status {
    pub(crate) code: u16,
    /// The `StatusCode` constant of the status, if `http` has one.
    pub(crate) constant: Option<&'static str>,
    pub(crate) reason: Option<&'static str>,
}

/// How to write a status, for the messages about a wrong one.
pub(crate) const HELP: &str =
    "use a number such as `404` or an `http::StatusCode` constant such as `NOT_FOUND`";

impl Status {
    /// Reads `404` or `NOT_FOUND` (any path ending in a `StatusCode`
    /// constant), reporting anything else, or a status that is not an error.
    pub(crate) fn from_expr(cx: &Ctxt, expr: &Expr) -> Option<Status> {
        match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => {
                let Ok(code) = int.base10_parse::<u16>() else {
                    cx.error_spanned_by(int, format!("`{int}` is not an HTTP status; {HELP}"));
                    return None;
                };
                if !(400..=599).contains(&code) {
                    cx.error_spanned_by(int, format!(
                        "status {code} is not an error status; an `ApiError` needs a 4xx or 5xx status (400..=599)"
                    ));
                    return None;
                }
                let known = by_code(code);
                Some(Status {
                    code,
                    constant: known.map(|s| s.1),
                    reason: known.map(|s| s.2),
                })
            }
            Expr::Path(path) if path.qself.is_none() => {
                let last = path
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                if let Some(&(code, constant, reason)) = by_name(&last) {
                    return Some(Status {
                        code,
                        constant: Some(constant),
                        reason: Some(reason),
                    });
                }
                let message = if NON_ERROR_CONSTANTS.contains(&last.as_str()) {
                    format!(
                        "`{last}` is not an error status; an `ApiError` needs a 4xx or 5xx status"
                    )
                } else {
                    let names: Vec<&str> = STATUSES.iter().map(|s| s.1).collect();
                    match closest(&last, &names) {
                        Some(close) => format!("unknown status `{last}`; did you mean `{close}`?"),
                        None => format!("unknown status `{last}`; {HELP}"),
                    }
                };
                cx.error_spanned_by(path, message);
                None
            }
            other => {
                cx.error_spanned_by(other, format!("expected a status: {HELP}"));
                None
            }
        }
    }
}

/// `StatusCode` constants that are not errors, for a precise message.
const NON_ERROR_CONSTANTS: &[&str] = &[
    "CONTINUE",
    "SWITCHING_PROTOCOLS",
    "PROCESSING",
    "OK",
    "CREATED",
    "ACCEPTED",
    "NON_AUTHORITATIVE_INFORMATION",
    "NO_CONTENT",
    "RESET_CONTENT",
    "PARTIAL_CONTENT",
    "MULTI_STATUS",
    "ALREADY_REPORTED",
    "IM_USED",
    "MULTIPLE_CHOICES",
    "MOVED_PERMANENTLY",
    "FOUND",
    "SEE_OTHER",
    "NOT_MODIFIED",
    "USE_PROXY",
    "TEMPORARY_REDIRECT",
    "PERMANENT_REDIRECT",
];

impl ToTokens for Status {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let code = self.code;
        match self.constant {
            Some(name) => {
                let ident = Ident::new(name, Span::call_site());
                tokens.extend(quote::quote!(::rebuff::__private::StatusCode::#ident));
            }
            None => tokens.extend(quote::quote!(::rebuff::__private::status(#code))),
        }
    }
}

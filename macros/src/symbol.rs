//! The names of the `#[api(...)]` keys, and of the other attributes the
//! derive reads, in one place.

pub(crate) const API: &str = "api";

// type
pub(crate) const ENVELOPE: &str = "envelope";
pub(crate) const CODE_CASE: &str = "code_case";
pub(crate) const RENAME_ALL: &str = "rename_all";
pub(crate) const TYPE_BASE: &str = "type_base";
pub(crate) const DECODE: &str = "decode";
pub(crate) const ANSWER_REJECTIONS: &str = "answer_rejections";
pub(crate) const CRATE: &str = "crate";

// variant (or struct)
pub(crate) const STATUS: &str = "status";
pub(crate) const CODE: &str = "code";
pub(crate) const MESSAGE: &str = "message";
pub(crate) const RETRYABLE: &str = "retryable";
pub(crate) const TRANSPARENT: &str = "transparent";
pub(crate) const OTHER: &str = "other";
pub(crate) const REJECTION: &str = "rejection";
pub(crate) const TIMEOUT: &str = "timeout";

// field
pub(crate) const SKIP: &str = "skip";
pub(crate) const RENAME: &str = "rename";
pub(crate) const FLATTEN: &str = "flatten";
pub(crate) const RETRY_AFTER: &str = "retry_after";
pub(crate) const RATE_LIMIT: &str = "rate_limit";
pub(crate) const ERRORS: &str = "errors";
pub(crate) const EXPOSE: &str = "expose";
pub(crate) const EXAMPLE: &str = "example";

// other attributes read (thiserror's, and doc comments)
pub(crate) const ERROR: &str = "error";
pub(crate) const SOURCE: &str = "source";
pub(crate) const FROM: &str = "from";
pub(crate) const BACKTRACE: &str = "backtrace";
pub(crate) const DOC: &str = "doc";

pub(crate) const TYPE_KEYS: &[&str] = &[
    ENVELOPE,
    CODE_CASE,
    RENAME_ALL,
    TYPE_BASE,
    DECODE,
    ANSWER_REJECTIONS,
    CRATE,
];
pub(crate) const VARIANT_KEYS: &[&str] = &[
    STATUS,
    CODE,
    MESSAGE,
    RETRYABLE,
    TRANSPARENT,
    OTHER,
    REJECTION,
    TIMEOUT,
];
pub(crate) const FIELD_KEYS: &[&str] = &[
    SKIP,
    RENAME,
    FLATTEN,
    RETRY_AFTER,
    RATE_LIMIT,
    ERRORS,
    EXPOSE,
    EXAMPLE,
];

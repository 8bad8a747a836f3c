//! Every error example printed in the five seed guides (`shared/seeds/`),
//! reproduced by a derived type and compared byte for byte with the body the
//! guide prints (after removing the whitespace the guides indent with).
//!
//! Where a seed is inconsistent with itself, the test says so next to the
//! example.

use std::time::{Duration, UNIX_EPOCH};

use rebuff::{ApiError, Context, RateLimit};

/// The seed's JSON without the insignificant whitespace it is printed with.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

#[track_caller]
fn assert_renders<E: ApiError>(err: &E, ctx: &Context, seed: &str) {
    if let Some(fixed) = err.message_str() {
        assert_eq!(
            fixed,
            err.message().to_string(),
            "message_str agrees with fmt_message"
        );
    }
    let body = String::from_utf8(rebuff::to_vec(err, ctx)).expect("rendered JSON is UTF-8");
    assert_eq!(body, minify(seed));
}

/// Seed 000 (CallCov): `{"error":{"code","message","details","request_id"}}`,
/// snake_case codes.
mod seed_000 {
    use super::*;

    #[derive(Debug, thiserror::Error, ApiError)]
    enum CallError {
        /// The `X-API-Key` header is missing or names no active key.
        #[error("unauthorized")]
        #[api(status = 401, message = "Invalid or missing API key")]
        Unauthorized,

        /// The uploaded file is not audio in a supported format.
        #[error("invalid file format {provided_format}")]
        #[api(
            status = 400,
            message = "Audio file must be in WAV, MP3, M4A, FLAC, or OGG format"
        )]
        InvalidFileFormat { provided_format: String },

        /// Required form fields are missing.
        #[error("missing fields {missing_fields:?}")]
        #[api(
            status = 400,
            code = "validation_error",
            message = "Missing required fields"
        )]
        MissingFields { missing_fields: Vec<&'static str> },

        /// The upload exceeds the size limit.
        #[error("file too large")]
        #[api(
            status = 413,
            message = "Audio file exceeds maximum size of {max_size_mb} MB"
        )]
        FileTooLarge { file_size_mb: u64, max_size_mb: u64 },

        /// Too many requests for the plan.
        #[error("rate limited")]
        #[api(
            status = 429,
            code = "rate_limit_exceeded",
            message = "Rate limit exceeded. Please try again in {retry_after} seconds.",
            rejection = RateLimited
        )]
        RateLimited {
            #[api(retry_after)]
            retry_after: u64,
            limit: String,
            #[api(rate_limit)]
            limits: RateLimit,
        },

        /// The format section's placeholder example.
        #[error("example")]
        #[api(
            status = 400,
            code = "error_code_here",
            message = "Human-readable error message"
        )]
        Example { field: &'static str },
    }

    #[test]
    fn error_response_format() {
        assert_renders(
            &CallError::Example {
                field: "additional_context",
            },
            &Context::new().request_id("req_1a2b3c4d5e"),
            r#"{
                "error": {
                    "code": "error_code_here",
                    "message": "Human-readable error message",
                    "details": {
                        "field": "additional_context"
                    },
                    "request_id": "req_1a2b3c4d5e"
                }
            }"#,
        );
    }

    #[test]
    fn unauthorized_401() {
        assert_eq!(CallError::Unauthorized.status(), 401);
        assert_renders(
            &CallError::Unauthorized,
            &Context::new(),
            r#"{"error": {"code": "unauthorized", "message": "Invalid or missing API key"}}"#,
        );
    }

    #[test]
    fn invalid_file_format_400() {
        assert_renders(
            &CallError::InvalidFileFormat {
                provided_format: "pdf".into(),
            },
            &Context::new(),
            r#"{
                "error": {
                    "code": "invalid_file_format",
                    "message": "Audio file must be in WAV, MP3, M4A, FLAC, or OGG format",
                    "details": {
                        "provided_format": "pdf"
                    }
                }
            }"#,
        );
    }

    #[test]
    fn missing_required_field_400() {
        assert_renders(
            &CallError::MissingFields {
                missing_fields: vec!["agent_id", "contact_id"],
            },
            &Context::new(),
            r#"{
                "error": {
                    "code": "validation_error",
                    "message": "Missing required fields",
                    "details": {
                        "missing_fields": ["agent_id", "contact_id"]
                    }
                }
            }"#,
        );
    }

    #[test]
    fn file_too_large_413() {
        let err = CallError::FileTooLarge {
            file_size_mb: 150,
            max_size_mb: 100,
        };
        assert_eq!(err.status(), 413);
        assert_renders(
            &err,
            &Context::new(),
            r#"{
                "error": {
                    "code": "file_too_large",
                    "message": "Audio file exceeds maximum size of 100 MB",
                    "details": {
                        "file_size_mb": 150,
                        "max_size_mb": 100
                    }
                }
            }"#,
        );
    }

    #[test]
    fn rate_limit_exceeded_429_with_headers() {
        let err = CallError::RateLimited {
            retry_after: 32,
            limit: "60/minute".into(),
            limits: RateLimit {
                limit: 60,
                remaining: 0,
                reset: 1_699_564_832,
            },
        };
        assert_renders(
            &err,
            &Context::new(),
            r#"{
                "error": {
                    "code": "rate_limit_exceeded",
                    "message": "Rate limit exceeded. Please try again in 32 seconds.",
                    "details": {
                        "retry_after": 32,
                        "limit": "60/minute"
                    }
                }
            }"#,
        );
        let response = rebuff::to_response(&err, &Context::new());
        assert_eq!(response.status(), 429);
        let headers = response.headers();
        assert_eq!(headers["x-ratelimit-limit"], "60");
        assert_eq!(headers["x-ratelimit-remaining"], "0");
        assert_eq!(headers["x-ratelimit-reset"], "1699564832");
        assert_eq!(headers["retry-after"], "32");
        assert_eq!(headers["content-type"], "application/json");
        assert!(err.retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(32)));
    }
}

/// Seed 001: `{"success":false,"error":{...},"request_id","timestamp"}`.
mod seed_001 {
    use super::*;

    /// The seed's "Common Errors & Fixes" table gives `validation_error` to
    /// two different messages ("Agent name is already in use", "phone_number
    /// must be E.164 format"), and its status table would put the first under
    /// 409 and the second under 422. A code must name one error, so the two
    /// are one variant whose message is a (public) field; it answers 422.
    #[derive(Debug, thiserror::Error, ApiError)]
    #[api(envelope = rebuff::envelope::Success)]
    enum AgentError {
        /// A field is present but its value is invalid.
        #[error("validation: {reason}")]
        #[api(status = 422, code = "validation_error", message = "{reason}")]
        Validation {
            #[api(skip)]
            reason: &'static str,
        },
        /// The agent id names no agent. The seed's code for it is the
        /// server's for unknown routes too, so it answers those as well.
        #[error("agent not found")]
        #[api(status = 404, message = "Agent not found", rejection = NotFound)]
        NotFound,
        /// The API key is missing, invalid or expired.
        #[error("authentication")]
        #[api(
            status = 401,
            code = "authentication_error",
            message = "Invalid or expired API key"
        )]
        Authentication,
        /// The account has no credits left.
        #[error("quota")]
        #[api(status = PAYMENT_REQUIRED, message = "Insufficient credits")]
        QuotaExceeded,
    }

    fn ctx() -> Context {
        Context::new()
            .request_id("req_abc123")
            .timestamp(UNIX_EPOCH + Duration::from_secs(1_735_732_800))
    }

    #[test]
    fn error_response_format() {
        assert_renders(
            &AgentError::Validation {
                reason: "Agent name is already in use",
            },
            &ctx(),
            r#"{
                "success": false,
                "error": {
                    "code": "validation_error",
                    "message": "Agent name is already in use"
                },
                "request_id": "req_abc123",
                "timestamp": "2025-01-01T12:00:00Z"
            }"#,
        );
    }

    #[test]
    fn common_errors_table() {
        let rows: [(AgentError, &str, &str); 5] = [
            (
                AgentError::Validation {
                    reason: "Agent name is already in use",
                },
                "validation_error",
                "Agent name is already in use",
            ),
            (
                AgentError::Validation {
                    reason: "phone_number must be E.164 format",
                },
                "validation_error",
                "phone_number must be E.164 format",
            ),
            (AgentError::NotFound, "not_found", "Agent not found"),
            (
                AgentError::Authentication,
                "authentication_error",
                "Invalid or expired API key",
            ),
            (
                AgentError::QuotaExceeded,
                "quota_exceeded",
                "Insufficient credits",
            ),
        ];
        for (err, code, message) in rows {
            assert_renders(
                &err,
                &ctx(),
                &format!(
                    r#"{{"success":false,"error":{{"code":"{code}","message":"{message}"}},"request_id":"req_abc123","timestamp":"2025-01-01T12:00:00Z"}}"#
                ),
            );
        }
    }

    #[test]
    fn retry_table_matches_the_default_advice() {
        // Seed 001's "Retry?" column: 400, 401, 404, 422 no; 429, 500, 502,
        // 503, 504 yes.
        for (status, retry) in [
            (400, false),
            (401, false),
            (404, false),
            (422, false),
            (429, true),
            (500, true),
            (502, true),
            (503, true),
            (504, true),
        ] {
            let status = rebuff::StatusCode::from_u16(status).unwrap();
            assert_eq!(rebuff::retryable_status(status), retry, "{status}");
        }
    }
}

/// Seed 002 (IdentityCall): `{"error":"..."}`, plain messages.
mod seed_002 {
    use super::*;

    #[derive(Debug, thiserror::Error, ApiError)]
    #[api(envelope = rebuff::envelope::Plain)]
    enum RecordingError {
        /// Missing, malformed, revoked or expired key.
        #[error("unauthorized")]
        #[api(status = 401, message = "Invalid or expired API key")]
        Unauthorized,
        /// The key lacks the permission the action needs.
        #[error("forbidden")]
        #[api(status = 403, message = "{permission} permission required")]
        PermissionRequired {
            #[api(skip)]
            permission: &'static str,
        },
        /// The recording does not exist or belongs to another account; also
        /// the answer to unknown routes.
        #[error("not found")]
        #[api(status = 404, message = "Resource not found", rejection = NotFound)]
        NotFound,
        /// A required field is missing or the resource is in the wrong state.
        #[error("unprocessable")]
        #[api(status = 422, message = "{reason}")]
        Unprocessable {
            #[api(skip)]
            reason: &'static str,
        },
        /// Several fields are invalid.
        #[error("invalid fields")]
        #[api(status = 422)]
        Invalid {
            #[api(errors)]
            errors: Vec<&'static str>,
        },
        /// Too many requests.
        #[error("rate limited")]
        #[api(status = 429, message = "Rate limit exceeded")]
        RateLimited {
            #[api(retry_after)]
            retry_after: u32,
        },
        /// The format section's placeholder.
        #[error("generic")]
        #[api(status = 400, message = "Description of what went wrong")]
        Generic,
    }

    #[test]
    fn every_printed_body() {
        let cases: Vec<(RecordingError, u16, &str)> = vec![
            (
                RecordingError::Generic,
                400,
                r#"{ "error": "Description of what went wrong" }"#,
            ),
            (
                RecordingError::Invalid {
                    errors: vec!["Field 1 is invalid", "Field 2 is required"],
                },
                422,
                r#"{ "errors": ["Field 1 is invalid", "Field 2 is required"] }"#,
            ),
            (
                RecordingError::Unauthorized,
                401,
                r#"{ "error": "Invalid or expired API key" }"#,
            ),
            (
                RecordingError::PermissionRequired { permission: "Read" },
                403,
                r#"{ "error": "Read permission required" }"#,
            ),
            (
                RecordingError::PermissionRequired {
                    permission: "Write",
                },
                403,
                r#"{ "error": "Write permission required" }"#,
            ),
            (
                RecordingError::PermissionRequired {
                    permission: "Delete",
                },
                403,
                r#"{ "error": "Delete permission required" }"#,
            ),
            (
                RecordingError::NotFound,
                404,
                r#"{ "error": "Resource not found" }"#,
            ),
            (
                RecordingError::Unprocessable {
                    reason: "file is required",
                },
                422,
                r#"{ "error": "file is required" }"#,
            ),
            (
                RecordingError::Unprocessable {
                    reason: "Transcription not available",
                },
                422,
                r#"{ "error": "Transcription not available" }"#,
            ),
            (
                RecordingError::RateLimited { retry_after: 60 },
                429,
                r#"{ "error": "Rate limit exceeded", "retry_after": 60 }"#,
            ),
        ];
        for (err, status, seed) in cases {
            assert_eq!(err.status(), status, "{err:?}");
            // A request id in the context does not change this format's body.
            assert_renders(&err, &Context::new().request_id("req_x"), seed);
        }
    }

    #[test]
    fn rate_limit_sets_retry_after_header() {
        let response = rebuff::to_response(
            &RecordingError::RateLimited { retry_after: 60 },
            &Context::new(),
        );
        assert_eq!(response.headers()["retry-after"], "60");
    }
}

/// Seed 003: nested envelope with SCREAMING_SNAKE_CASE codes; every code of
/// its tables, with the table's description as message.
mod seed_003 {
    use super::*;

    #[derive(Debug, thiserror::Error, ApiError)]
    #[api(code_case = "SCREAMING_SNAKE_CASE")]
    enum JobError {
        #[error("e")]
        #[api(status = 401, message = "Authentication failed")]
        AuthenticationFailed,
        #[error("e")]
        #[api(status = 401, message = "The provided API key is invalid")]
        InvalidApiKey,
        #[error("e")]
        #[api(status = 401, message = "The API key has expired")]
        ExpiredApiKey,
        #[error("e")]
        #[api(status = 401, message = "The API key has been revoked")]
        RevokedApiKey,
        #[error("e")]
        #[api(
            status = 403,
            message = "You do not have permission to access this resource"
        )]
        AuthorizationFailed,
        #[error("e")]
        #[api(status = 403, message = "The client account has been suspended")]
        SuspendedAccount,
        #[error("e")]
        #[api(
            status = 403,
            message = "The API key does not have the required permissions"
        )]
        InsufficientPermissions,
        #[error("e")]
        #[api(
            status = 400,
            message = "The request is malformed or contains invalid parameters"
        )]
        InvalidRequest,
        #[error("e")]
        #[api(status = 400, message = "A required parameter is missing")]
        MissingParameter,
        #[error("e")]
        #[api(status = 400, message = "A parameter has an invalid value")]
        InvalidParameter,
        #[error("e")]
        #[api(status = 400, message = "The request format is invalid")]
        InvalidFormat,
        #[error("e")]
        #[api(
            status = 400,
            message = "Account balance is below the minimum required"
        )]
        InsufficientBalance,
        #[error("e")]
        #[api(status = 404, message = "The requested resource was not found")]
        ResourceNotFound,
        #[error("e")]
        #[api(status = 404, message = "The specified job was not found")]
        JobNotFound,
        #[error("e")]
        #[api(status = 404, message = "The specified client was not found")]
        ClientNotFound,
        #[error("e")]
        #[api(status = 404, message = "The specified API key was not found")]
        ApiKeyNotFound,
        #[error("e")]
        #[api(status = 429, message = "Rate limit exceeded", rejection = RateLimited)]
        RateLimitExceeded,
        #[error("e")]
        #[api(
            status = 500,
            message = "An internal server error occurred",
            rejection = Internal
        )]
        InternalError,
        #[error("e")]
        #[api(status = 500, message = "Job processing failed")]
        ProcessingFailed,
        #[error("e")]
        #[api(status = 500, message = "A database error occurred")]
        DatabaseError,
        #[error("e")]
        #[api(status = 500, message = "An external service error occurred")]
        ExternalServiceError,
        #[error("e")]
        #[api(status = 503, message = "The service is temporarily unavailable")]
        ServiceUnavailable,
    }

    #[test]
    fn error_response_format() {
        #[derive(Debug, thiserror::Error, ApiError)]
        #[error("e")]
        #[api(
            status = 400,
            code = "ERROR_CODE",
            message = "Human-readable error message"
        )]
        struct Example;
        assert_renders(
            &Example,
            &Context::new(),
            r#"{
                "error": {
                    "code": "ERROR_CODE",
                    "message": "Human-readable error message"
                }
            }"#,
        );
    }

    #[test]
    fn every_code_of_the_tables() {
        use JobError::*;
        let table = [
            (
                AuthenticationFailed,
                "AUTHENTICATION_FAILED",
                401,
                "Authentication failed",
            ),
            (
                InvalidApiKey,
                "INVALID_API_KEY",
                401,
                "The provided API key is invalid",
            ),
            (
                ExpiredApiKey,
                "EXPIRED_API_KEY",
                401,
                "The API key has expired",
            ),
            (
                RevokedApiKey,
                "REVOKED_API_KEY",
                401,
                "The API key has been revoked",
            ),
            (
                AuthorizationFailed,
                "AUTHORIZATION_FAILED",
                403,
                "You do not have permission to access this resource",
            ),
            (
                SuspendedAccount,
                "SUSPENDED_ACCOUNT",
                403,
                "The client account has been suspended",
            ),
            (
                InsufficientPermissions,
                "INSUFFICIENT_PERMISSIONS",
                403,
                "The API key does not have the required permissions",
            ),
            (
                InvalidRequest,
                "INVALID_REQUEST",
                400,
                "The request is malformed or contains invalid parameters",
            ),
            (
                MissingParameter,
                "MISSING_PARAMETER",
                400,
                "A required parameter is missing",
            ),
            (
                InvalidParameter,
                "INVALID_PARAMETER",
                400,
                "A parameter has an invalid value",
            ),
            (
                InvalidFormat,
                "INVALID_FORMAT",
                400,
                "The request format is invalid",
            ),
            (
                InsufficientBalance,
                "INSUFFICIENT_BALANCE",
                400,
                "Account balance is below the minimum required",
            ),
            (
                ResourceNotFound,
                "RESOURCE_NOT_FOUND",
                404,
                "The requested resource was not found",
            ),
            (
                JobNotFound,
                "JOB_NOT_FOUND",
                404,
                "The specified job was not found",
            ),
            (
                ClientNotFound,
                "CLIENT_NOT_FOUND",
                404,
                "The specified client was not found",
            ),
            (
                ApiKeyNotFound,
                "API_KEY_NOT_FOUND",
                404,
                "The specified API key was not found",
            ),
            (
                RateLimitExceeded,
                "RATE_LIMIT_EXCEEDED",
                429,
                "Rate limit exceeded",
            ),
            (
                InternalError,
                "INTERNAL_ERROR",
                500,
                "An internal server error occurred",
            ),
            (
                ProcessingFailed,
                "PROCESSING_FAILED",
                500,
                "Job processing failed",
            ),
            (
                DatabaseError,
                "DATABASE_ERROR",
                500,
                "A database error occurred",
            ),
            (
                ExternalServiceError,
                "EXTERNAL_SERVICE_ERROR",
                500,
                "An external service error occurred",
            ),
            (
                ServiceUnavailable,
                "SERVICE_UNAVAILABLE",
                503,
                "The service is temporarily unavailable",
            ),
        ];
        assert_eq!(JobError::CATALOG.len(), table.len());
        for (err, code, status, message) in table {
            assert_eq!(err.status(), status);
            // Seed 003 retries 429, 500 and 503.
            assert_eq!(err.retryable(), matches!(status, 429 | 500 | 503), "{code}");
            assert_renders(
                &err,
                &Context::new(),
                &format!(r#"{{"error":{{"code":"{code}","message":"{message}"}}}}"#),
            );
        }
    }
}

/// Seed 004 (lead management): flat envelope, SCREAMING_SNAKE_CASE codes,
/// camelCase detail keys, millisecond timestamps, `requestId`.
mod seed_004 {
    use super::*;

    #[derive(Debug, thiserror::Error, ApiError)]
    #[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE", rename_all = "camelCase")]
    enum LeadError {
        /// A field of the request is invalid.
        #[error("validation failed on {field}")]
        #[api(status = 400, message = "Validation failed")]
        ValidationError {
            field: &'static str,
            value: String,
            message: &'static str,
        },
        /// No lead has this id in the workspace.
        #[error("lead {lead_id} not found")]
        #[api(status = 404, message = "Lead not found")]
        LeadNotFound {
            lead_id: String,
            message: &'static str,
        },
        /// A lead with this email exists already.
        #[error("duplicate email")]
        #[api(status = 409, message = "Email already exists")]
        DuplicateEmail {
            email: String,
            existing_lead_id: String,
            message: &'static str,
        },
        /// Too many requests.
        #[error("rate limited")]
        #[api(status = 429, message = "Rate limit exceeded", rejection = RateLimited)]
        RateLimitExceeded {
            #[api(retry_after, skip)]
            retry_after: u64,
        },
        /// The format section's placeholder.
        #[error("example")]
        #[api(
            status = 400,
            code = "MACHINE_READABLE_ERROR_CODE",
            message = "Human-readable error message"
        )]
        Example {
            field: &'static str,
            value: &'static str,
            expected: &'static str,
        },
    }

    #[test]
    fn error_response_format() {
        let ctx = Context::new()
            .request_id("req_1234567890abcdef")
            .timestamp(UNIX_EPOCH + Duration::from_secs(1_705_401_000));
        assert_renders(
            &LeadError::Example {
                field: "Additional context about the error",
                value: "Invalid value that caused the error",
                expected: "What was expected instead",
            },
            &ctx,
            r#"{
                "success": false,
                "error": "Human-readable error message",
                "code": "MACHINE_READABLE_ERROR_CODE",
                "details": {
                    "field": "Additional context about the error",
                    "value": "Invalid value that caused the error",
                    "expected": "What was expected instead"
                },
                "timestamp": "2024-01-16T10:30:00.000Z",
                "requestId": "req_1234567890abcdef"
            }"#,
        );
    }

    #[test]
    fn validation_error_400() {
        assert_renders(
            &LeadError::ValidationError {
                field: "email",
                value: "invalid-email".into(),
                message: "Must be a valid email address",
            },
            &Context::new(),
            r#"{
                "success": false,
                "error": "Validation failed",
                "code": "VALIDATION_ERROR",
                "details": {
                    "field": "email",
                    "value": "invalid-email",
                    "message": "Must be a valid email address"
                }
            }"#,
        );
    }

    #[test]
    fn lead_not_found_404() {
        assert_renders(
            &LeadError::LeadNotFound {
                lead_id: "lead_nonexistent123".into(),
                message: "No lead found with this ID in your workspace",
            },
            &Context::new(),
            r#"{
                "success": false,
                "error": "Lead not found",
                "code": "LEAD_NOT_FOUND",
                "details": {
                    "leadId": "lead_nonexistent123",
                    "message": "No lead found with this ID in your workspace"
                }
            }"#,
        );
    }

    #[test]
    fn duplicate_email_409() {
        assert_renders(
            &LeadError::DuplicateEmail {
                email: "john.doe@example.com".into(),
                existing_lead_id: "lead_existing123".into(),
                message: "A lead with this email already exists in your workspace",
            },
            &Context::new(),
            r#"{
                "success": false,
                "error": "Email already exists",
                "code": "DUPLICATE_EMAIL",
                "details": {
                    "email": "john.doe@example.com",
                    "existingLeadId": "lead_existing123",
                    "message": "A lead with this email already exists in your workspace"
                }
            }"#,
        );
    }

    #[test]
    fn rate_limit_429_sets_retry_after() {
        // The seed's clients read `Retry-After` and the code
        // `RATE_LIMIT_EXCEEDED`; its guide prints no 429 body.
        let err = LeadError::RateLimitExceeded { retry_after: 30 };
        let response = rebuff::to_response(&err, &Context::new());
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "30");
        assert_eq!(
            response.body().as_ref(),
            br#"{"success":false,"error":"Rate limit exceeded","code":"RATE_LIMIT_EXCEEDED"}"#
        );
    }
}

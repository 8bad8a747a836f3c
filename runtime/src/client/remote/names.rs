//! What the parser knows of particular vendors, as data: the names they
//! give the request id and the error code in headers and bodies. The rules
//! that read a body's shape (`shapes`, `pick`) know no vendor; teaching the
//! parser a vendor's header or member name is a line here.

/// Request-id headers, most specific first.
pub(super) const REQUEST_ID_HEADERS: &[&str] = &[
    "x-request-id",
    "request-id",
    "x-amzn-requestid",
    "x-amz-request-id",
    "x-github-request-id",
    "twilio-request-id",
    "x-ms-request-id",
    "paypal-debug-id",
    "cko-request-id",
    "x-slack-req-id",
    "x-guploader-uploadid",
    "x-correlation-id",
    "x-trace-id",
    "apim-request-id",
    "x-amz-cf-id",
    "x-vercel-id",
    "cf-ray",
];

/// The end of a vendor's own request-id header (`x-dropbox-request-id`),
/// read after every name above.
pub(super) const REQUEST_ID_SUFFIX: &str = "-request-id";

/// Body members that hold the request id, most specific first. The member
/// of the error object itself beats one at the top level of the body.
pub(super) const REQUEST_ID_MEMBERS: &[&str] = &[
    "request_id",
    "requestId",
    "request-id",
    "requestID",
    "debug_id",
    "trace_id",
    "traceId",
    "correlation_id",
    "correlationId",
    "errorId",
    "fbtrace_id",
    "pspReference",
    "ErrorIdentifier",
    "RequestId",
];

/// Rank of `key` among [`REQUEST_ID_MEMBERS`], if it is one.
#[inline]
pub(super) fn request_id_member(key: &str) -> Option<u8> {
    // Every name is at least 7 bytes: most keys are told apart by length.
    if key.len() < 7 {
        return None;
    }
    let rank = REQUEST_ID_MEMBERS.iter().position(|name| *name == key)?;
    u8::try_from(rank).ok()
}

/// Headers that carry the error's code when the body does not (AWS's
/// REST-JSON protocols, Azure Storage), most specific first.
pub(super) const CODE_HEADERS: &[&str] = &["x-amzn-errortype", "x-ms-error-code"];

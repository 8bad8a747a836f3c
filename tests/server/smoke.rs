//! A first end-to-end check: derive, render, compare bytes.

use rebuff::{ApiError, Context};

#[derive(Debug, ApiError)]
#[api(status = 404, message = "Lead not found")]
struct LeadNotFound {
    lead_id: String,
}

#[test]
fn renders_nested() {
    let err = LeadNotFound {
        lead_id: "l1".into(),
    };
    assert_eq!(err.code(), "lead_not_found");
    assert_eq!(
        String::from_utf8(rebuff::to_vec(&err, &Context::new())).unwrap(),
        r#"{"error":{"code":"lead_not_found","message":"Lead not found","details":{"lead_id":"l1"}}}"#
    );
}

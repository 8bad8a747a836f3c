#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(decode)]
enum E {
    #[error("x")]
    #[api(status = 404, message = "Lead not found")]
    LeadNotFound { lead_id: &'static str },
}

fn main() {}

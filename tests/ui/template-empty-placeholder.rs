#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 404, message = "Lead {} not found")]
    LeadNotFound { lead_id: String },
}

fn main() {}

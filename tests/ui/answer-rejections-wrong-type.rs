#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(answer_rejections = LeadError::answer)]
enum LeadError {
    #[error("gone")]
    #[api(status = 410)]
    Gone,
}

impl LeadError {
    fn answer(_: &rebuff::Rejection) -> Self {
        LeadError::Gone
    }
}

fn main() {}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum LeadError {
    #[error("timed out after {limit:?}")]
    #[api(status = 504, timeout)]
    TimedOut { limit: std::time::Duration },
}

fn main() {}

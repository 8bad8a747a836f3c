#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum LeadError {
    #[error("timed out")]
    #[api(status = 504, timeout)]
    TimedOut,
    #[error("too slow")]
    #[api(status = 408, timeout)]
    TooSlow,
}

fn main() {}

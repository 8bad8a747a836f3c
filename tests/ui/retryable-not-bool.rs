#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 409, retryable = "yes")]
    Conflict,
}

fn main() {}

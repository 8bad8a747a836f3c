use rebuff::Breaker;

static UPSTREAM: Breaker = Breaker::new();

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum CallError {
    #[error("unavailable")]
    #[api(status = 503)]
    Unavailable,
}

#[rebuff::retry(breaker = UPSTREAM)]
fn call() -> Result<u32, CallError> {
    Err(CallError::Unavailable)
}

fn main() {}

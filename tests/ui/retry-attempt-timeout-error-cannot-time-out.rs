// `attempt_timeout` on an async function whose error type cannot stand
// for a timed-out attempt would cut nothing off.
use rebuff::retry;

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum CallError {
    #[error("unavailable")]
    #[api(status = 503)]
    Unavailable,
}

#[retry(max_retries = 1, attempt_timeout = "100ms")]
async fn fetch() -> Result<u32, CallError> {
    Err(CallError::Unavailable)
}

fn main() {
    let _ = fetch();
}

static UPSTREAM: u32 = 5;

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum CallError {
    #[error(transparent)]
    #[api(status = 503)]
    Open(#[from] rebuff::CircuitOpen),
}

#[rebuff::retry(breaker = UPSTREAM)]
fn call() -> Result<u32, CallError> {
    Ok(1)
}

fn main() {}

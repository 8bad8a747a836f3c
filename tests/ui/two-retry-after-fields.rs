#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 429)]
    RateLimited {
        #[api(retry_after)]
        seconds: u64,
        #[api(retry_after)]
        again: u64,
    },
}

fn main() {}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 429)]
    RateLimited {
        #[api(retry_after)]
        retry_after: String,
    },
}

fn main() {}

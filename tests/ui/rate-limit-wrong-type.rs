#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 429)]
    RateLimited {
        #[api(rate_limit)]
        limits: (u64, u64, u64),
    },
}

fn main() {}

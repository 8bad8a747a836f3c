#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = NOT_FUND)]
    NotFound,
}

fn main() {}

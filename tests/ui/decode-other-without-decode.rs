#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 404)]
    NotFound,
    #[error("y")]
    #[api(status = 500, other)]
    Unknown,
}

fn main() {}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(stauts = 404)]
    NotFound,
}

fn main() {}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(stauts = 404)]
    #[api(status = 404)]
    Missing,
}

fn main() {}

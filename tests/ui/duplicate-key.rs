#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 404, status = 410)]
    Gone,
}

fn main() {}

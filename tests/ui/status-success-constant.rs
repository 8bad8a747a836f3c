#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = OK)]
    Fine,
}

fn main() {}

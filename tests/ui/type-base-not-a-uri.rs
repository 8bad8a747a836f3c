#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(type_base = "/errors/")]
enum E {
    #[error("x")]
    #[api(status = 404)]
    NotFound,
}

fn main() {}

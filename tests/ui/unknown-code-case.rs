#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(code_case = "SCREAMING_CASE")]
enum E {
    #[error("x")]
    #[api(status = 404)]
    NotFound,
}

fn main() {}

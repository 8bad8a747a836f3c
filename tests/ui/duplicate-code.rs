#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 400, code = "validation_error")]
    MissingField,
    #[error("y")]
    #[api(status = 422, code = "validation_error")]
    InvalidField,
}

fn main() {}

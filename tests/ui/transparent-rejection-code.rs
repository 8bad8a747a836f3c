#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum Storage {
    #[error("missing")]
    #[api(status = 404, code = "NOT_FOUND")]
    Missing,
}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(code_case = "SCREAMING_SNAKE_CASE")]
enum ApiError {
    #[error(transparent)]
    #[api(transparent)]
    Storage(Storage),
}

fn main() {}

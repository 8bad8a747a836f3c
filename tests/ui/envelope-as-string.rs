#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(envelope = "Flat", code_case = "SCREAMING")]
enum E {
    #[error("x")]
    #[api(status = 404)]
    Missing,
}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(envelope)]
enum F {
    #[error("x")]
    #[api(status = 404)]
    Missing,
}

fn main() {}

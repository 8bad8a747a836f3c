#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[error("x")]
#[api(transparent)]
struct Wrapper(std::io::Error);

fn main() {}

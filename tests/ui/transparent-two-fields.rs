#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(transparent)]
    Inner(Other, u32),
}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[error("other")]
#[api(status = 400)]
struct Other;

fn main() {}

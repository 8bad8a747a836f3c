#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error(transparent)]
    #[api(transparent, status = 500)]
    Inner(Other),
}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[error("other")]
#[api(status = 400)]
struct Other;

fn main() {}

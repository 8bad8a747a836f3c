#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(decode)]
enum E {
    #[error("x")]
    #[api(status = 500, other)]
    Unknown,
    #[error("y")]
    #[api(status = 502, other)]
    AlsoUnknown,
}

fn main() {}

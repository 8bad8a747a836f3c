#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(decode)]
enum E {
    #[error("x")]
    #[api(status = 500, other)]
    Unknown { code: String },
}

fn main() {}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 500)]
    Job(#[api(expose)] u32),
}

fn main() {}

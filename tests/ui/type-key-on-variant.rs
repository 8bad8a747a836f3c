#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 404, envelope = rebuff::envelope::Flat)]
    NotFound,
}

fn main() {}

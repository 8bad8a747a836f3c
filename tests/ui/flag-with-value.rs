#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 404)]
    NotFound {
        #[api(skip = true)]
        id: u32,
    },
}

fn main() {}

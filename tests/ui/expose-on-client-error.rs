#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 404)]
    NotFound {
        #[api(expose)]
        lead_id: u32,
    },
}

fn main() {}

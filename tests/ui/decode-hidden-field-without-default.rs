#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(decode)]
enum E {
    #[error("db")]
    #[api(status = 500)]
    Database(#[source] std::io::Error),
}

fn main() {}

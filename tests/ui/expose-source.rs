#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 500)]
    Database {
        #[source]
        #[api(expose)]
        cause: std::io::Error,
    },
}

fn main() {}

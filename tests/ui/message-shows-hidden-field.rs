#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[error("database {host} down")]
#[api(status = 503, message = "Database {host} is down, try again in {wait} s")]
struct DatabaseDown {
    host: String,
    #[api(retry_after)]
    wait: u64,
}

fn main() {}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum Storage {
    #[error("lead missing")]
    #[api(status = 404)]
    LeadMissing,
}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum ApiError {
    #[error("lead missing")]
    #[api(status = 404)]
    LeadMissing,
    #[error(transparent)]
    #[api(transparent)]
    Storage(Storage),
}

fn main() {}

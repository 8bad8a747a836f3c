#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum LeadError {
    #[error("lead not found")]
    #[api(status = 404, message = "Lead not found")]
    NotFound, // code `not_found`: also the code of the server's unknown-route rejection
}

fn main() {}

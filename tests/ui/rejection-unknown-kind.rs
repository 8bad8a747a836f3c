#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum LeadError {
    #[error("no route for {path}")]
    #[api(status = 404, message = "Nothing here", rejection = NotFund)]
    RouteNotFound { path: String },
}

fn main() {}

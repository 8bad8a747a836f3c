#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum LeadError {
    #[error("no route")]
    #[api(status = 404, message = "Nothing here", rejection = NotFound)]
    RouteNotFound,
    #[error("gone")]
    #[api(status = 410, message = "Gone", rejection = NotFound)]
    RouteGone,
}

fn main() {}

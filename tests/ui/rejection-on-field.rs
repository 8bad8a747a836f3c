#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum LeadError {
    #[error("no route for {path}")]
    #[api(status = 404, message = "Nothing here")]
    RouteNotFound {
        #[api(rejection = NotFound)]
        path: String,
    },
}

fn main() {}

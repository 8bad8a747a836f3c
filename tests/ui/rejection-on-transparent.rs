#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum LeadError {
    #[error(transparent)]
    #[api(transparent, rejection = NotFound)]
    Route(RouteError),
}

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[error("no route")]
#[api(status = 404, message = "Nothing here")]
struct RouteError;

fn main() {}

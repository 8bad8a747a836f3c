// Only the missing status is reported: the type is still an axum response
// and an actix-web error for the rest of the crate.
#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    Missing,
}

async fn handler() -> Result<&'static str, E> {
    Ok("x")
}

fn is_response_error<T: actix_web::ResponseError>() {}

fn main() {
    let _ = axum::Router::<()>::new().route("/", axum::routing::get(handler));
    is_response_error::<E>();
}

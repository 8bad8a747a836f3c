// A type without `#[api(decode)]` cannot be what a response decodes into:
// the error says how to make it one.
use rebuff::client::reqwest::RequestBuilderExt as _;

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum OrderError {
    #[error("not found")]
    #[api(status = 404)]
    OrderMissing,
}

async fn fetch(client: reqwest::Client) {
    let _ = client
        .get("http://127.0.0.1:9/orders/1")
        .send_api::<String, OrderError>()
        .await;
}

fn main() {
    let _ = fetch;
    let _ = OrderError::OrderMissing;
}

// `attempt = NAME` must not hide an argument of the function.
use rebuff::client::ClientError;
use rebuff::retry;

#[retry(max_retries = 1, attempt = id)]
async fn fetch(id: u32) -> Result<u32, ClientError> {
    Ok(id)
}

fn main() {
    let _ = fetch(1);
}

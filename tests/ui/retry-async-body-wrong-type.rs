// A value of the wrong type in an async body is reported at the value,
// as it is without `#[retry]`.
use rebuff::client::ClientError;
use rebuff::retry;

#[retry(max_retries = 1)]
async fn fetch() -> Result<u32, ClientError> {
    Ok("many")
}

fn main() {
    let _ = fetch();
}

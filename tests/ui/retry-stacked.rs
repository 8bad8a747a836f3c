// Two `#[retry]` on one function would multiply its calls.
use rebuff::client::ClientError;
use rebuff::retry;

#[retry(max_retries = 2)]
#[retry(max_retries = 2)]
async fn fetch() -> Result<u32, ClientError> {
    Ok(1)
}

fn main() {
    let _ = fetch();
}

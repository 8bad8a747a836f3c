#[rebuff::retry(backoff = "exponential", step = "1s")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

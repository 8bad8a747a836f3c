#[rebuff::retry(initial_delay = "2m")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

// A constant delay is not capped: fine.
#[rebuff::retry(backoff = "constant", initial_delay = "2m")]
fn poll() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

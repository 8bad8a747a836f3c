#[rebuff::retry(backoff = "constant", initial_delay = "90s", max_delay = "30s")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

#[rebuff::retry(max_retries = 3, max_retries = 5)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

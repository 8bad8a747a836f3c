#[rebuff::retry(attempt_timeout = "5s")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

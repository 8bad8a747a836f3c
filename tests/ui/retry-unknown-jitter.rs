#[rebuff::retry(jitter = "random")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

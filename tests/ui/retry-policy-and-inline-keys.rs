const STANDARD: rebuff::Policy = rebuff::Policy::DEFAULT;

#[rebuff::retry(policy = STANDARD, max_retries = 3)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

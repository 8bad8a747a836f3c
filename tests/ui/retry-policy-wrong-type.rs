#[rebuff::retry(policy = 5)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

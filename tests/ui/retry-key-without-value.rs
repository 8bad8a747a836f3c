#[rebuff::retry(policy)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

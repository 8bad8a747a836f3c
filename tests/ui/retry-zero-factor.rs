#[rebuff::retry(factor = 0)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

#[rebuff::retry(step = "2s")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

#[rebuff::retry(max_delay = "20")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

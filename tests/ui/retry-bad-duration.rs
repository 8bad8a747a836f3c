#[rebuff::retry(initial_delay = "5 seconds please")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

#[rebuff::retry(initial_delay = "2m", max_delay = "30s")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

#[rebuff::retry(initial_delay = "340282366920938463463374607431768211.9us")]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

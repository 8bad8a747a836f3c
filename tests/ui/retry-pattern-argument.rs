#[rebuff::retry]
fn fetch((a, b): (u32, u32)) -> Result<u32, std::io::Error> {
    Ok(a + b)
}

fn main() {}

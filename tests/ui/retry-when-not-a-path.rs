#[rebuff::retry(when = |_| rebuff::Advice::Stop)]
fn fetch() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}

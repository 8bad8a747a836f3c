#[rebuff::retry]
const fn fetch() -> Result<u32, ()> {
    Ok(1)
}

fn main() {}

#[rebuff::retry]
fn fetch() -> Result<u32, String> {
    Err("no".to_owned())
}

fn main() {}

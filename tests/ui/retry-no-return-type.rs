#[rebuff::retry]
fn fetch() {}

fn main() {}

use std::future::Future;
use std::pin::Pin;

#[rebuff::retry]
fn fetch() -> Pin<Box<dyn Future<Output = Result<u32, std::io::Error>> + Send>> {
    Box::pin(async { Ok(1) })
}

fn main() {}

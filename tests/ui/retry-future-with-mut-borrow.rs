use std::future::Future;

struct Counter {
    calls: u32,
}

impl Counter {
    #[rebuff::retry]
    fn fetch(&mut self) -> impl Future<Output = Result<u32, std::io::Error>> + '_ {
        async move {
            self.calls += 1;
            Ok(self.calls)
        }
    }
}

#[rebuff::retry]
fn fill(buffer: &mut Vec<u8>) -> impl Future<Output = Result<(), std::io::Error>> + '_ {
    async move {
        buffer.push(1);
        Ok(())
    }
}

fn main() {}

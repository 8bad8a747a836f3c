trait Api {
    #[rebuff::retry]
    fn fetch(&self) -> Result<u32, std::io::Error>;
}

fn main() {}

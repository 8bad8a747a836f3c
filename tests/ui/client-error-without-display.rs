#[derive(Debug, rebuff::ApiError)]
enum E {
    #[api(status = 404)]
    NotFound,
}

fn main() {}

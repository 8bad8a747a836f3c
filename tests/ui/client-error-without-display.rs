#[derive(Debug, rebuff::ApiError)]
enum E {
    #[api(status = 404)]
    LeadNotFound,
}

fn main() {}

#[derive(rebuff::ApiError)]
union U {
    a: u32,
    b: f32,
}

fn main() {}

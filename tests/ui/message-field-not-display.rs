#[derive(serde::Serialize)]
struct Opaque;

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("x")]
    #[api(status = 400, message = "bad {thing}")]
    Bad { thing: Opaque },
}

impl std::fmt::Debug for Opaque {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opaque")
    }
}

fn main() {}

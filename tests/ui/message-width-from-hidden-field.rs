// A width or precision shows the client its field too: `queue` pads the
// region, so a 5xx's message cannot take it unless it is exposed.
#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[error("full")]
#[api(status = 503, message = "Region full: [{region:>queue$}]")]
struct Full {
    #[api(expose)]
    region: String,
    queue: usize,
}

fn main() {}

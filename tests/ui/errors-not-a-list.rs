// `#[api(errors)]` is a list of messages: a string, or a list of numbers,
// would reach the client in a shape it cannot read back.
#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum ImportError {
    #[error("invalid")]
    #[api(status = 422, message = "Invalid rows")]
    Invalid {
        #[api(errors)]
        errors: String,
    },
    #[error("bad rows")]
    #[api(status = 400, message = "Bad rows")]
    BadRows {
        #[api(errors)]
        errors: Vec<u32>,
    },
}

fn main() {}

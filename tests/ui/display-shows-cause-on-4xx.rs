// A 4xx without `message` is sent its `Display`: one that shows the cause
// would send what never leaves the server.
#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum UploadError {
    #[error("could not read the upload: {0}")]
    #[api(status = 400)]
    Unreadable(#[source] std::io::Error),
    #[error("bad part {name}: {source:?}")]
    #[api(status = 422)]
    BadPart { name: String, source: std::io::Error },
    #[error(transparent)]
    #[api(status = 409)]
    Conflict(std::io::Error),
    // Fine: the message says what the client reads.
    #[error("store failed: {0}")]
    #[api(status = 400, message = "The upload could not be stored")]
    Stored(#[source] std::io::Error),
}

fn main() {}

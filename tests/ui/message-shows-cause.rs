#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum E {
    #[error("upload failed")]
    #[api(status = 400, message = "Upload failed: {source}")]
    Upload { source: std::io::Error },
}

fn main() {}

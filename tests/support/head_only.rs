//! A request sent as its head alone, over a raw socket: for a body the
//! server refuses from its declared length, before any of it is read (a
//! client still writing the body when the server answers and closes could
//! see a broken pipe instead of the answer).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `head` (request line and headers, ending in a blank line) to the
/// server at `base` (`http://host:port`); the whole answer as text, read
/// for at most 5 seconds.
pub async fn send_head(base: &str, head: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

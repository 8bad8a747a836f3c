//! An error body that counts how much of it a client reads: 1 MiB in
//! frames of 1 KiB, each counted when it is handed out.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body::Frame;
use http_body_util::StreamBody;

/// The size of each frame.
pub const FRAME: usize = 1024;

/// A body of 1 MiB of JSON-ish text, and the count of its bytes read so far.
pub fn body() -> (
    StreamBody<impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + Sync>,
    Arc<AtomicUsize>,
) {
    let read = Arc::new(AtomicUsize::new(0));
    let counter = read.clone();
    let frames = futures_util::stream::iter(0..1024).map(move |i| {
        counter.fetch_add(FRAME, Ordering::SeqCst);
        let mut frame = vec![b'x'; FRAME];
        if i == 0 {
            frame[..10].copy_from_slice(br#"{"error":""#);
        }
        Ok(Frame::data(Bytes::from(frame)))
    });
    (StreamBody::new(frames), read)
}

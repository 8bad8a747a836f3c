//! reqwest's blocking client, checked: the async helpers of
//! [`rebuff::client::reqwest`](super) for `reqwest::blocking`, with the
//! same rules (an error response read up to a limit and parsed into a
//! typed error, a success body decoded, failures classified alike).
//!
//! With `#[retry]` on a plain `fn`, a blocking call is retried as its
//! errors advise (`Retry-After` included):
//!
//! ```no_run
//! use rebuff::client::ClientError;
//! use rebuff::client::reqwest::blocking::RequestBuilderExt;
//!
//! #[derive(serde::Deserialize)]
//! struct Lead { id: String }
//!
//! #[rebuff::retry(max_retries = 3, initial_delay = "500ms", max_delay = "20s")]
//! fn lead(client: &reqwest::blocking::Client) -> Result<Lead, ClientError> {
//!     client
//!         .get("http://127.0.0.1:3000/api/v1/leads/lead_1")
//!         .bearer_auth("demo-key")
//!         .send_api()
//! }
//!
//! let client = reqwest::blocking::Client::new();
//! let lead = lead(&client)?;
//! # let _ = lead.id;
//! # Ok::<(), ClientError>(())
//! ```
//!
//! An error body is read for at most
//! [`ERROR_BODY_TIME`](crate::client::ERROR_BODY_TIME), as by the async
//! helpers, so that a server trickling an endless error page does not hold
//! the call. A blocking read cannot be cut off: the time is checked between
//! reads, and the read under way when it runs out ends within the client's
//! own timeout (which reqwest's blocking client applies to each read, 30 s
//! by default, not to the whole body). A success body is read for as long
//! as it takes, up to [`MAX_SUCCESS_BODY`]: neither the client's timeout
//! nor a policy's deadline cuts off a server that keeps sending it.

// `ClientError` is what every client call returns, the async ones too: the
// blocking ones return it as they do rather than boxed.
#![allow(clippy::result_large_err)]

use std::io::Read as _;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::{
    DEFAULT_ERROR_BODY_LIMIT, MAX_SUCCESS_BODY, announced, body_failure, decoded, from_reqwest,
};
use crate::client::{ClientError, FromRemote, NetworkKind, RemoteError};

/// Checking and decoding a [`reqwest::blocking::Response`]; see the async
/// [`ResponseExt`](super::ResponseExt).
pub trait ResponseExt: Sized {
    /// The success body as `T` (at most [`MAX_SUCCESS_BODY`] bytes of it),
    /// or the error response as [`ClientError<E>`], reading at most
    /// [`DEFAULT_ERROR_BODY_LIMIT`] bytes of an error body. A success
    /// without a body decodes as JSON `null`.
    ///
    /// # Errors
    ///
    /// The error response as `E` (or [`RemoteError`]), a body that could
    /// not be read or decoded, or one over [`MAX_SUCCESS_BODY`].
    fn api<T, E>(self) -> Result<T, ClientError<E>>
    where
        T: DeserializeOwned,
        E: FromRemote;

    /// The response itself if its status is a success, else the error
    /// response as [`ClientError<E>`] (reading at most `limit` bytes of it).
    ///
    /// # Errors
    ///
    /// The error response, parsed.
    fn check<E>(self, limit: usize) -> Result<reqwest::blocking::Response, ClientError<E>>
    where
        E: FromRemote;
}

impl ResponseExt for reqwest::blocking::Response {
    fn api<T, E>(self) -> Result<T, ClientError<E>>
    where
        T: DeserializeOwned,
        E: FromRemote,
    {
        let response = self.check(DEFAULT_ERROR_BODY_LIMIT)?;
        let status = response.status();
        announced(status, response.content_length())?;
        let mut body = Vec::new();
        response
            .take(MAX_SUCCESS_BODY as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|err| read_failure(err, status))?;
        decoded(
            status,
            (body.len() <= MAX_SUCCESS_BODY).then_some(&body[..]),
        )
    }

    fn check<E>(self, limit: usize) -> Result<reqwest::blocking::Response, ClientError<E>>
    where
        E: FromRemote,
    {
        if !crate::client::is_error_status(self.status()) {
            return Ok(self);
        }
        let (status, headers) = (self.status(), self.headers().clone());
        let body = read_error_body(self, limit, crate::client::ERROR_BODY_TIME);
        Err(ClientError::from_remote(RemoteError::parse(
            status, &headers, &body,
        )))
    }
}

/// At most `limit` bytes of an error body, read for at most `time` (checked
/// between reads: the read under way ends within the client's own timeout).
/// A body cut short still says what it can: the status and headers are in.
fn read_error_body(mut body: impl std::io::Read, limit: usize, time: Duration) -> Vec<u8> {
    let until = Instant::now() + time;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8 * 1024];
    while bytes.len() < limit && Instant::now() < until {
        let want = chunk.len().min(limit - bytes.len());
        match body.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(read) => bytes.extend_from_slice(&chunk[..read]),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    bytes
}

/// A success body whose read failed: reqwest's error inside classified as
/// the async helpers classify it, anything else a broken connection.
fn read_failure<E>(err: std::io::Error, status: http::StatusCode) -> ClientError<E> {
    let kind = err.kind();
    let source = match err.into_inner() {
        Some(inner) => match inner.downcast::<reqwest::Error>() {
            Ok(reqwest) => return body_failure(*reqwest, status),
            Err(other) => other,
        },
        None => Box::new(std::io::Error::from(kind)),
    };
    ClientError::Network {
        kind: NetworkKind::Reset,
        source,
    }
}

/// Sending a [`reqwest::blocking::RequestBuilder`] and decoding its answer
/// in one call.
pub trait RequestBuilderExt {
    /// Sends the request; see [`ResponseExt::api`].
    ///
    /// # Errors
    ///
    /// The request's failure, or its error response, as [`ClientError`].
    fn send_api<T, E>(self) -> Result<T, ClientError<E>>
    where
        T: DeserializeOwned,
        E: FromRemote;
}

impl RequestBuilderExt for reqwest::blocking::RequestBuilder {
    fn send_api<T, E>(self) -> Result<T, ClientError<E>>
    where
        T: DeserializeOwned,
        E: FromRemote,
    {
        self.send().map_err(from_reqwest)?.api()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body that gives one byte at a time, every `pause`, without end.
    struct Trickle {
        pause: Duration,
    }

    impl std::io::Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            std::thread::sleep(self.pause);
            buf[0] = b'x';
            Ok(1)
        }
    }

    #[test]
    fn an_endless_error_body_is_read_for_a_bounded_time() {
        let pause = Duration::from_millis(10);
        let body = read_error_body(Trickle { pause }, 1024, Duration::from_millis(200));
        // Given up on once the time ran out, long before the limit.
        assert!(!body.is_empty() && body.len() < 1024, "{}", body.len());
    }

    #[test]
    fn an_error_body_is_read_up_to_the_limit_and_to_its_end() {
        let long = vec![b'a'; 100_000];
        assert_eq!(
            read_error_body(&long[..], 64 * 1024, Duration::from_secs(60)).len(),
            64 * 1024
        );
        assert_eq!(
            read_error_body(&b"short"[..], 64 * 1024, Duration::from_secs(60)),
            b"short"
        );
    }
}

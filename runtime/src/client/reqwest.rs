//! reqwest, checked: send a request, get the success body decoded or a
//! [`ClientError`] that says what went wrong.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rebuff::client::ClientError> {
//! use rebuff::client::reqwest::RequestBuilderExt;
//!
//! #[derive(serde::Deserialize)]
//! struct Lead { id: String }
//!
//! let client = reqwest::Client::new();
//! let lead: Lead = client
//!     .get("http://127.0.0.1:3000/api/v1/leads/lead_1")
//!     .bearer_auth("demo-key")
//!     .send_api()
//!     .await?;
//! # let _ = lead.id; Ok(()) }
//! ```

use core::future::Future;
use std::io;

#[cfg(feature = "reqwest-blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-blocking")))]
pub mod blocking;

use serde::de::DeserializeOwned;

use super::idempotent::{self, retry_if_unsent};
use super::{ClientError, FromRemote, NetworkKind, RemoteError};
use crate::retry::{IdempotencyKey, WithExtras};
use crate::{Advice, Breaker, Budget, Policy, Retryable};

/// How much of an error body is read by default: enough for any real error
/// document, little enough that a hostile server cannot exhaust memory.
pub const DEFAULT_ERROR_BODY_LIMIT: usize = super::ERROR_BODY_LIMIT;

/// The largest success body [`ResponseExt::api`] decodes: 64 MiB, well over
/// any JSON answer worth decoding at once, and a bound on what a server
/// (or a broken one streaming without end) can make the client hold. A
/// larger one is a [`ClientError::Decode`]; read it yourself after
/// [`ResponseExt::check`].
pub const MAX_SUCCESS_BODY: usize = 64 << 20;

/// Checking and decoding a [`reqwest::Response`].
pub trait ResponseExt: Sized {
    /// The success body as `T` (at most [`MAX_SUCCESS_BODY`] bytes of it),
    /// or the error response as [`ClientError<E>`], reading at most
    /// [`DEFAULT_ERROR_BODY_LIMIT`] bytes of an error body.
    ///
    /// A success without a body (204, 205, or an empty 2xx) decodes as
    /// JSON `null`: `()` and `Option<T>` (as `None`) accept it.
    fn api<T, E>(self) -> impl Future<Output = Result<T, ClientError<E>>> + Send
    where
        T: DeserializeOwned,
        E: FromRemote + Send;

    /// The response itself if its status is a success, else the error
    /// response as [`ClientError<E>`] (reading at most `limit` bytes of it).
    fn check<E>(
        self,
        limit: usize,
    ) -> impl Future<Output = Result<reqwest::Response, ClientError<E>>> + Send
    where
        E: FromRemote + Send;
}

impl ResponseExt for reqwest::Response {
    async fn api<T, E>(self) -> Result<T, ClientError<E>>
    where
        T: DeserializeOwned,
        E: FromRemote + Send,
    {
        let mut response = self.check(DEFAULT_ERROR_BODY_LIMIT).await?;
        let status = response.status();
        announced(status, response.content_length())?;
        let body = read_within(&mut response, MAX_SUCCESS_BODY)
            .await
            .map_err(|err| body_failure(err, status))?;
        decoded(status, body.as_deref())
    }

    async fn check<E>(self, limit: usize) -> Result<reqwest::Response, ClientError<E>>
    where
        E: FromRemote + Send,
    {
        if !super::is_error_status(self.status()) {
            return Ok(self);
        }
        let (parts, body) = http::Response::from(self).into_parts();
        let body = super::read_error_body(body, limit).await;
        Err(ClientError::from_remote(RemoteError::parse(
            parts.status,
            &parts.headers,
            &body,
        )))
    }
}

/// A success body of the announced `length` refused before it is read,
/// when that is over [`MAX_SUCCESS_BODY`].
#[allow(clippy::result_large_err)] // `ClientError` is what every client call returns
pub(crate) fn announced<E>(
    status: http::StatusCode,
    length: Option<u64>,
) -> Result<(), ClientError<E>> {
    match length {
        Some(length) if length > MAX_SUCCESS_BODY as u64 => Err(too_large(status)),
        _ => Ok(()),
    }
}

/// A success body decoded as `T`; `None` is one that ran past
/// [`MAX_SUCCESS_BODY`].
#[allow(clippy::result_large_err)] // `ClientError` is what every client call returns
pub(crate) fn decoded<T: DeserializeOwned, E>(
    status: http::StatusCode,
    body: Option<&[u8]>,
) -> Result<T, ClientError<E>> {
    let body = body.ok_or_else(|| too_large(status))?;
    super::decode_success(status, body).map_err(|source| ClientError::Decode {
        status,
        source: Box::new(source),
    })
}

/// A success body over [`MAX_SUCCESS_BODY`], as a [`ClientError`].
fn too_large<E>(status: http::StatusCode) -> ClientError<E> {
    ClientError::Decode {
        status,
        source: format!("the response body is over {MAX_SUCCESS_BODY} bytes").into(),
    }
}

/// A success body that could not be read, as a [`ClientError`]. reqwest
/// calls both of these a decode error: a body cut off on the way (a
/// transport failure, worth retrying) and a compressed body that does not
/// decompress (a retry would get it again). `status` is the response's:
/// reqwest's body errors carry none.
pub(crate) fn body_failure<E>(err: reqwest::Error, status: http::StatusCode) -> ClientError<E> {
    match from_reqwest::<E>(err) {
        ClientError::Decode { source, .. }
            if matches!(
                io_kind(&*source),
                Some(io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput)
            ) =>
        {
            ClientError::Decode { status, source }
        }
        ClientError::Decode { source, .. } => ClientError::Network {
            kind: NetworkKind::Reset,
            source,
        },
        other => other,
    }
}

/// The whole body, if it is at most `limit` bytes (`None` past it); a
/// body in one chunk is handed over as it is.
async fn read_within(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Option<bytes::Bytes>, reqwest::Error> {
    let Some(first) = response.chunk().await? else {
        return Ok(Some(bytes::Bytes::new()));
    };
    if first.len() > limit {
        return Ok(None);
    }
    let Some(second) = response.chunk().await? else {
        return Ok(Some(first));
    };
    let mut body = first.to_vec();
    let mut next = Some(second);
    while let Some(chunk) = next {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
        next = response.chunk().await?;
    }
    Ok(Some(body.into()))
}

/// Sending a [`reqwest::RequestBuilder`] and decoding its answer in one call.
pub trait RequestBuilderExt {
    /// Sends the request; see [`ResponseExt::api`].
    fn send_api<T, E>(self) -> impl Future<Output = Result<T, ClientError<E>>> + Send
    where
        T: DeserializeOwned,
        E: FromRemote + Send;
}

impl RequestBuilderExt for reqwest::RequestBuilder {
    async fn send_api<T, E>(self) -> Result<T, ClientError<E>>
    where
        T: DeserializeOwned,
        E: FromRemote + Send,
    {
        let response = self.send().await.map_err(from_reqwest)?;
        response.api().await
    }
}

/// A reqwest failure as a [`ClientError`].
#[must_use]
pub fn from_reqwest<E>(err: reqwest::Error) -> ClientError<E> {
    let failure = Failure::of(&err);
    failure.into_error(Box::new(err))
}

/// What a reqwest failure is: decided once, for [`from_reqwest`] and for
/// the retry middleware (which keeps the error itself to hand on).
pub(crate) enum Failure {
    Timeout,
    /// `error_for_status()`'s error: the response, its body left unread.
    Status(http::StatusCode),
    /// A request that could not be built, or a redirect loop: sent again,
    /// it fails again.
    Request,
    Decode(http::StatusCode),
    Network(NetworkKind),
}

impl Failure {
    pub(crate) fn of(err: &reqwest::Error) -> Self {
        // A connect timeout is both: the request never left, which is what
        // decides whether it may be sent again.
        if err.is_connect() {
            return Failure::Network(NetworkKind::Connect);
        }
        if err.is_timeout() {
            return Failure::Timeout;
        }
        if let Some(status) = err.status().filter(|_| err.is_status()) {
            return Failure::Status(status);
        }
        if err.is_builder() || err.is_redirect() {
            return Failure::Request;
        }
        if err.is_decode() {
            return Failure::Decode(err.status().unwrap_or(http::StatusCode::OK));
        }
        Failure::Network(if err.is_body() || err.is_request() {
            NetworkKind::Reset
        } else {
            NetworkKind::Other
        })
    }

    /// The [`ClientError`] of this failure, `source` its cause. A status
    /// error is an error response (retried by its status, a 404 not at
    /// all).
    pub(crate) fn into_error<E>(
        self,
        source: Box<dyn std::error::Error + Send + Sync>,
    ) -> ClientError<E> {
        match self {
            Failure::Timeout => ClientError::Timeout { after: None },
            Failure::Status(status) => {
                let remote = RemoteError::new(status, None, None);
                if status == http::StatusCode::TOO_MANY_REQUESTS {
                    ClientError::RateLimited(remote)
                } else {
                    ClientError::Unrecognized(remote)
                }
            }
            Failure::Request => ClientError::Request(source),
            Failure::Decode(status) => ClientError::Decode { status, source },
            Failure::Network(kind) => ClientError::Network { kind, source },
        }
    }
}

impl<E> From<reqwest::Error> for ClientError<E> {
    fn from(err: reqwest::Error) -> Self {
        from_reqwest(err)
    }
}

/// The kind of the first I/O error in `err`'s chain (itself included).
fn io_kind(err: &(dyn std::error::Error + 'static)) -> Option<io::ErrorKind> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        next = err.source();
    }
    None
}

/// Timeouts, refused connections and broken transfers (a body cut off on
/// the way included) are worth retrying; a request that could not be
/// built, a redirect loop or a body that does not decode are not; a status
/// error by its status.
impl Retryable for reqwest::Error {
    fn retry_advice(&self) -> Advice {
        if let Some(status) = self.status() {
            return if crate::retryable_status(status) {
                Advice::Retry
            } else {
                Advice::Stop
            };
        }
        if self.is_timeout() || self.is_connect() || self.is_request() || self.is_body() {
            return Advice::Retry;
        }
        // reqwest reports a body cut short as a decode error too: retried
        // when the chain shows the connection failing, not the content.
        let cut_off = self.is_decode()
            && matches!(
                io_kind(self),
                Some(
                    io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::TimedOut
                )
            );
        if cut_off { Advice::Retry } else { Advice::Stop }
    }

    fn retry_status(&self) -> Option<http::StatusCode> {
        self.status()
    }

    /// Not for a request that could not be built.
    fn reached_service(&self) -> bool {
        !self.is_builder()
    }
}

pub use super::idempotent::{IDEMPOTENCY_KEY, is_idempotent};

/// Sends a request with retries made safe: see [`SendRetrying::send`].
///
/// ```no_run
/// # async fn demo() -> Result<(), rebuff::client::ClientError> {
/// use rebuff::{Breaker, Budget, Policy};
/// use rebuff::client::reqwest::SendRetrying;
///
/// static UPSTREAM: Breaker = Breaker::new();
/// static RETRIES: Budget = Budget::new();
///
/// let client = reqwest::Client::new();
/// let created: serde_json::Value = SendRetrying::new(&Policy::DEFAULT)
///     .breaker(&UPSTREAM)
///     .budget(&RETRIES)
///     .send(|| {
///         client
///             .post("http://127.0.0.1:3000/api/v1/leads")
///             .header("content-type", "application/json")
///             .body(r#"{"name":"Ada"}"#)
///     })
///     .await?;
/// # let _ = created; Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use = "nothing is sent until `send`"]
pub struct SendRetrying<'p> {
    policy: &'p Policy,
    breaker: Option<&'p Breaker>,
    budget: Option<&'p Budget>,
    auto_key: bool,
}

impl<'p> SendRetrying<'p> {
    /// Retries under `policy`, adding an `Idempotency-Key` to
    /// non-idempotent requests.
    pub fn new(policy: &'p Policy) -> Self {
        SendRetrying {
            policy,
            breaker: None,
            budget: None,
            auto_key: true,
        }
    }

    /// Goes through `breaker`: refused at once while it is open, paused
    /// while the host asked everyone to wait.
    pub fn breaker(mut self, breaker: &'p Breaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Draws every retry from `budget`.
    pub fn budget(mut self, budget: &'p Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Whether to add an `Idempotency-Key` to requests of a method that is
    /// not idempotent (POST, PATCH, and any but those
    /// [`is_idempotent`] names) that have none (default: yes). Without one, they are repeated only when the
    /// request never reached the server.
    pub fn auto_key(mut self, on: bool) -> Self {
        self.auto_key = on;
        self
    }

    /// Sends the request `build` makes, retrying as the policy and the
    /// errors say, and decodes the answer like [`ResponseExt::api`]. The
    /// policy's attempt timeout and deadline cut attempts off as for any
    /// other retried call.
    ///
    /// What is retried:
    ///
    /// - idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) retry as
    ///   their errors advise;
    /// - other methods (POST, PATCH) retry only if the request carries an
    ///   `Idempotency-Key` (the same on every attempt of the call; one is
    ///   added unless [`auto_key(false)`](Self::auto_key)) or if it never
    ///   reached the server (the connection failed). The key makes a retry
    ///   safe only against a server that honours it, as rebuff's
    ///   idempotency layer does: against one that ignores the header, a
    ///   retried POST may be done twice. Turn `auto_key` off for such APIs.
    ///
    /// The first request `build` makes decides which case applies, and its
    /// `Idempotency-Key` is the one every attempt sends.
    pub async fn send<T, E>(
        self,
        mut build: impl FnMut() -> reqwest::RequestBuilder,
    ) -> Result<T, ClientError<E>>
    where
        T: DeserializeOwned,
        E: FromRemote + Retryable + Send,
    {
        let key = IdempotencyKey::new();
        let (client, request) = build().build_split();
        let mut request = request.map_err(|err| ClientError::Request(Box::new(err)))?;
        let repeatable = self.prepare(&mut request, key);
        // Every attempt carries the first one's key, whatever `build` puts
        // on the ones after (a key drawn afresh each time would let the
        // server do the work again).
        let first_key = request.headers().get(IDEMPOTENCY_KEY).cloned();
        let mut extras = WithExtras::NONE;
        if let Some(breaker) = self.breaker {
            extras = extras.breaker(breaker);
        }
        if let Some(budget) = self.budget {
            extras = extras.budget(budget);
        }
        if !repeatable {
            extras = extras.when(retry_if_unsent);
        }
        let mut first = Some((client, request));
        crate::__rebuff_retry!(async, self.policy, extras, _ => async {
            let (client, request) = match first.take() {
                Some(first) => first,
                None => {
                    let (client, request) = build().build_split();
                    let mut request = request.map_err(|err| ClientError::Request(Box::new(err)))?;
                    self.prepare(&mut request, key);
                    if let Some(first_key) = &first_key {
                        request.headers_mut().insert(IDEMPOTENCY_KEY, first_key.clone());
                    }
                    (client, request)
                }
            };
            match client.execute(request).await {
                Ok(response) => response.api().await,
                Err(err) => Err(from_reqwest(err)),
            }
        })
    }

    /// Adds the call's `Idempotency-Key` to a non-idempotent request that
    /// has none (if asked to), and says whether the request is safe to
    /// repeat.
    fn prepare(&self, request: &mut reqwest::Request, key: IdempotencyKey) -> bool {
        let method = request.method().clone();
        idempotent::prepare(&method, request.headers_mut(), self.auto_key, key)
    }
}

//! Retries for HTTP clients built on [tower]: a [`RetryLayer`] around any
//! `Service<http::Request<B>, Response = http::Response<RB>>` (hyper-util's
//! client, a tower stack of your own) retries under a rebuff [`Policy`],
//! with an optional [`Breaker`] and [`Budget`], on the same engine and
//! with the same safety rules as
//! [`SendRetrying`](super::reqwest::SendRetrying).
//!
//! Success responses pass through untouched. Error responses are read (up
//! to the error body limit) and, when the retries run out, returned as the
//! service's error: a [`ClientError`] whose [`decode`](ClientError::decode)
//! types it as the API's own error. Each attempt sends a clone of the
//! request, so the body type must be `Clone` (`Full<Bytes>`, `String`,
//! `Bytes`, `()`); buffer a streamed body first. The policy's attempt
//! timeout and deadline cover each attempt up to its response's head and,
//! for an error, its body: a success's body is read by the caller, outside
//! them.
//!
//! ```
//! use std::time::Duration;
//! use rebuff::Policy;
//! use rebuff::client::tower::RetryLayer;
//! use tower::Layer;
//!
//! let layer = RetryLayer::new(Policy::DEFAULT.attempt_timeout(Duration::from_secs(5)));
//! // let client = layer.layer(hyper_util::client::legacy::Client::builder(...).build_http());
//! # let _ = layer;
//! ```
//!
//! [tower]: https://docs.rs/tower

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::error::Error as StdError;
use std::sync::Arc;

use http::{Request, Response};
use http_body::Body;

use super::idempotent::{self, retry_if_unsent};
use super::{ClientError, NetworkKind, RemoteError};
use crate::breaker::Breakers;
use crate::retry::{IdempotencyKey, WithExtras};
use crate::{Breaker, Budget, Policy};

/// How much of an error body is read by default (64 KiB, as for every
/// client entry point).
pub const DEFAULT_ERROR_BODY_LIMIT: usize = super::ERROR_BODY_LIMIT;

/// A tower [`Layer`](tower::Layer) that retries requests under a rebuff
/// [`Policy`]. See the [module documentation](self).
///
/// Idempotent methods retry as their errors advise; other methods only
/// with an `Idempotency-Key` (added unless
/// [`auto_key(false)`](RetryLayer::auto_key)) or when the request never
/// reached the server. Cheap to clone.
///
/// ```
/// use rebuff::{Breaker, Policy};
/// use rebuff::client::tower::RetryLayer;
///
/// static UPSTREAM: Breaker = Breaker::new();
/// let layer = RetryLayer::new(Policy::DEFAULT).breaker(&UPSTREAM).auto_key(false);
/// # let _ = layer;
/// ```
#[derive(Debug, Clone)]
pub struct RetryLayer {
    config: Arc<Config>,
}

#[derive(Debug, Clone)]
struct Config {
    policy: Policy,
    breaker: Option<super::Guard>,
    budget: Option<&'static Budget>,
    auto_key: bool,
    body_limit: usize,
}

impl RetryLayer {
    /// Retries under `policy`, adding an `Idempotency-Key` to
    /// non-idempotent requests.
    #[must_use]
    pub fn new(policy: Policy) -> Self {
        RetryLayer {
            config: Arc::new(Config {
                policy,
                breaker: None,
                budget: None,
                auto_key: true,
                body_limit: DEFAULT_ERROR_BODY_LIMIT,
            }),
        }
    }

    fn config(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(Arc::make_mut(&mut self.config));
        self
    }

    /// Goes through `breaker`: refused at once while it is open, paused
    /// while the host asked everyone to wait. A call that waits out a
    /// pause first drops the service it was made ready on (and with it a
    /// buffer's slot or a concurrency permit) and makes a clone ready
    /// when the pause is over.
    #[must_use]
    pub fn breaker(self, breaker: &'static Breaker) -> Self {
        self.config(|c| c.breaker = Some(super::Guard::One(breaker)))
    }

    /// Goes through the breaker of each request's host and port in
    /// `breakers`, under the key `host:port` (`api.example.com:443`, the
    /// scheme's port when the URL gives none): one host failing opens its
    /// own circuit only, and a 429 from it pauses it alone. Instead of
    /// [`breaker`](Self::breaker).
    #[must_use]
    pub fn breakers(self, breakers: &'static Breakers) -> Self {
        self.config(|c| c.breaker = Some(super::Guard::PerHost(breakers)))
    }

    /// Draws every retry from `budget`.
    #[must_use]
    pub fn budget(self, budget: &'static Budget) -> Self {
        self.config(|c| c.budget = Some(budget))
    }

    /// Whether to add an `Idempotency-Key` to requests of a method that is
    /// not idempotent (POST, PATCH, and any but those
    /// [`is_idempotent`](crate::client::is_idempotent) names) that have none (default: yes).
    #[must_use]
    pub fn auto_key(self, on: bool) -> Self {
        self.config(|c| c.auto_key = on)
    }

    /// How much of an error body is read (default
    /// [`DEFAULT_ERROR_BODY_LIMIT`]).
    #[must_use]
    pub fn error_body_limit(self, limit: usize) -> Self {
        self.config(|c| c.body_limit = limit)
    }
}

impl<S> tower::Layer<S> for RetryLayer {
    type Service = Retrying<S>;

    fn layer(&self, inner: S) -> Retrying<S> {
        Retrying {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service [`RetryLayer`] makes: `S`, retried.
///
/// ```
/// use std::convert::Infallible;
/// use std::future::{Ready, ready};
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::task::{Context, Poll};
/// use rebuff::Policy;
/// use rebuff::client::tower::RetryLayer;
/// use rebuff::http::{Request, Response};
/// use tower::{Layer, Service};
///
/// /// Unavailable once, then fine.
/// #[derive(Clone, Default)]
/// struct Flaky(Arc<AtomicU32>);
///
/// impl Service<Request<String>> for Flaky {
///     type Response = Response<String>;
///     type Error = Infallible;
///     type Future = Ready<Result<Response<String>, Infallible>>;
///
///     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
///         Poll::Ready(Ok(()))
///     }
///
///     fn call(&mut self, _: Request<String>) -> Self::Future {
///         let status = if self.0.fetch_add(1, Ordering::SeqCst) == 0 { 503 } else { 200 };
///         ready(Ok(Response::builder().status(status).body(String::new()).unwrap()))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let _no_sleeping = rebuff::retry::testing::enable();
/// let mut client = RetryLayer::new(Policy::DEFAULT).layer(Flaky::default());
/// std::future::poll_fn(|cx| client.poll_ready(cx)).await.unwrap();
/// let response = client.call(Request::new(String::new())).await.unwrap();
/// assert_eq!(response.status(), 200);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Retrying<S> {
    inner: S,
    config: Arc<Config>,
}

/// The future of a [`Retrying`] call.
pub type ResponseFuture<RB> =
    Pin<Box<dyn Future<Output = Result<Response<RB>, ClientError>> + Send + 'static>>;

impl<S, B, RB> tower::Service<Request<B>> for Retrying<S>
where
    S: tower::Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Clone + Send + Sync + 'static,
    RB: Body + Send + 'static,
    RB::Data: Send,
{
    type Response = Response<RB>;
    type Error = ClientError;
    type Future = ResponseFuture<RB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        self.inner.poll_ready(cx).map_err(transport)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service made ready serves the first attempt.
        let inner = crate::ready::take_ready(&mut self.inner);
        Box::pin(run(self.config.clone(), inner, request))
    }
}

async fn run<S, B, RB>(
    config: Arc<Config>,
    mut inner: S,
    mut request: Request<B>,
) -> Result<Response<RB>, ClientError>
where
    S: tower::Service<Request<B>, Response = Response<RB>> + Clone,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Clone,
    RB: Body,
{
    let method = request.method().clone();
    let repeatable = idempotent::prepare(
        &method,
        request.headers_mut(),
        config.auto_key,
        IdempotencyKey::new(),
    );
    let mut extras = WithExtras::NONE;
    let mut ready = true;
    if let Some(guard) = config.breaker {
        let breaker = guard.of(|| host_and_port(request.uri()));
        if breaker.is_paused() {
            // The call waits out another caller's pause first: the service
            // made ready gives back what it holds for the call (a buffer's
            // slot, a concurrency permit) now, not minutes later, and a
            // clone is made ready once the pause is over.
            inner = inner.clone();
            ready = false;
        }
        extras = extras.breaker(breaker);
    }
    if let Some(budget) = config.budget {
        extras = extras.budget(budget);
    }
    if !repeatable {
        extras = extras.when(retry_if_unsent);
    }
    let limit = config.body_limit;
    crate::__rebuff_retry!(async, &config.policy, extras, _ => async {
        if !core::mem::take(&mut ready) {
            core::future::poll_fn(|cx| inner.poll_ready(cx)).await.map_err(transport)?;
        }
        let response = inner.call(copy(&request)).await.map_err(transport)?;
        let status = response.status();
        if super::is_error_status(status) {
            return Err(read_error(response, limit).await);
        }
        Ok(response)
    })
}

/// A copy of `request` for one attempt.
fn copy<B: Clone>(request: &Request<B>) -> Request<B> {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    copy
}

/// An error response as a [`ClientError`], its body read up to `limit`,
/// for at most [`ERROR_BODY_TIME`](super::ERROR_BODY_TIME).
async fn read_error<RB: Body>(response: Response<RB>, limit: usize) -> ClientError {
    let (parts, body) = response.into_parts();
    let bytes = super::read_error_body(body, limit).await;
    ClientError::from_remote(RemoteError::parse(parts.status, &parts.headers, &bytes))
}

/// The host and port of `uri` (the scheme's when it gives none), as the
/// middleware keys its breakers: never the URI's user information.
fn host_and_port(uri: &http::Uri) -> (&str, Option<u16>) {
    let port = uri.port_u16().or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    });
    (uri.host().unwrap_or_default(), port)
}

/// A failure of the inner service, by what its cause chain shows: a
/// request that could not be built (an `http` error in the chain: an
/// invalid URI or header a layer made) fails again if sent again; anything
/// else is the network's.
fn transport(err: impl Into<Box<dyn StdError + Send + Sync>>) -> ClientError {
    let source = err.into();
    if malformed(&*source) {
        return ClientError::Request(source);
    }
    let kind = network_kind(&*source);
    ClientError::Network { kind, source }
}

/// Whether `err`'s chain holds one of `http`'s errors of a request that
/// cannot be built.
fn malformed(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if err.is::<http::Error>()
            || err.is::<http::uri::InvalidUri>()
            || err.is::<http::uri::InvalidUriParts>()
            || err.is::<http::header::InvalidHeaderValue>()
            || err.is::<http::header::InvalidHeaderName>()
        {
            return true;
        }
        next = err.source();
    }
    false
}

/// Whether a transport failure happened before the request was sent
/// (a refused or unreachable connection) or after.
fn network_kind(err: &(dyn StdError + 'static)) -> NetworkKind {
    use std::io::ErrorKind;
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                ErrorKind::ConnectionRefused
                | ErrorKind::AddrNotAvailable
                | ErrorKind::HostUnreachable
                | ErrorKind::NetworkUnreachable => NetworkKind::Connect,
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof => NetworkKind::Reset,
                _ => NetworkKind::Other,
            };
        }
        next = err.source();
    }
    NetworkKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breaker_is_keyed_by_host_and_port_only() {
        let key = |uri: &str| {
            let uri: http::Uri = uri.parse().unwrap();
            let (host, port) = host_and_port(&uri);
            (host.to_owned(), port)
        };
        let plain = ("api.example.com".to_owned(), Some(443));
        assert_eq!(key("https://api.example.com/v1"), plain);
        assert_eq!(key("https://api.example.com:443/v1"), plain);
        assert_eq!(key("https://user:secret@api.example.com/v1"), plain);
        assert_eq!(
            key("http://api.example.com/"),
            ("api.example.com".to_owned(), Some(80))
        );
        assert_eq!(
            key("http://127.0.0.1:8080/"),
            ("127.0.0.1".to_owned(), Some(8080))
        );
        assert_eq!(key("/relative"), (String::new(), None));
    }
}

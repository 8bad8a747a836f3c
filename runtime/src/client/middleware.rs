//! Retries for clients built on [reqwest-middleware]: a [`RetryMiddleware`]
//! in the client's chain retries under a rebuff [`Policy`] (with an
//! optional [`Breaker`] and [`Budget`]), on the same engine and with the
//! same safety rules as [`SendRetrying`](super::reqwest::SendRetrying);
//! [`RequestBuilderExt`](super::reqwest::RequestBuilderExt) sends and decodes in one call, failing with the
//! same typed [`ClientError`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), rebuff::client::ClientError> {
//! use rebuff::Policy;
//! use rebuff::client::middleware::RetryMiddleware;
//! use rebuff::client::reqwest::RequestBuilderExt;
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(RetryMiddleware::new(Policy::DEFAULT))
//!     .build();
//! let lead: serde_json::Value = client
//!     .get("http://127.0.0.1:3000/api/v1/leads/lead_1")
//!     .send_api()
//!     .await?;
//! # let _ = lead; Ok(()) }
//! ```
//!
//! When the retries run out on an error response, the middleware hands the
//! last response on (its status, headers and body, read up to the error
//! body limit; `Response::url` is not kept), so the middlewares before it
//! and the caller see it as any other answer:
//! [`ResponseExt::api`] and `send_api`
//! decode it into the API's own error. A refusal of the breaker or a
//! timeout of the policy is a [`reqwest_middleware::Error::Middleware`]
//! holding a [`ClientError`], which [`from_middleware`] gives back.
//!
//! A failure of a middleware after this one is decided on by what it
//! holds: reqwest's own error or a [`ClientError`] (a second
//! `RetryMiddleware`'s) as what it is, anything else as a request that
//! cannot be sent, not retried.
//!
//! The policy's attempt timeout and deadline cover each attempt up to its
//! response's head and, for an error, its body: a success's body is read
//! by the caller once the middleware has handed the response on, outside
//! them (bound it with reqwest's own `timeout`, or use `SendRetrying`,
//! which reads it inside the attempt).
//!
//! [reqwest-middleware]: https://docs.rs/reqwest-middleware

use core::fmt;

use bytes::Bytes;
use http::Extensions;
use reqwest_middleware::{Middleware, Next};
use serde::de::DeserializeOwned;

use super::idempotent::{self, retry_if_unsent};
use super::reqwest::{DEFAULT_ERROR_BODY_LIMIT, ResponseExt, from_reqwest};
use super::{ClientError, FromRemote, RemoteError};
use crate::breaker::Breakers;
use crate::retry::{IdempotencyKey, TimedOut, WithExtras};
use crate::{Advice, Breaker, Budget, CircuitOpen, Policy, Retryable};

/// A reqwest-middleware [`Middleware`] that retries requests under a
/// rebuff [`Policy`]. See the [module documentation](self).
///
/// What is retried is as for [`SendRetrying`](super::reqwest::SendRetrying):
/// idempotent methods as their errors advise; other methods only with an
/// `Idempotency-Key` (added unless
/// [`auto_key(false)`](RetryMiddleware::auto_key)) or when the request never
/// reached the server. The key protects a retried POST only on a server
/// that honours it; against one that ignores it, turn `auto_key` off. A request whose body cannot be
/// cloned (a stream) is sent once. A failure of a middleware after this
/// one is retried only when it is reqwest's own or a [`ClientError`] that
/// advises it (see the [module documentation](self)), and handed on as it
/// is. Two `RetryMiddleware`s in one chain multiply their attempts (four
/// and four can make sixteen): give a client one.
///
/// ```
/// use std::time::Duration;
/// use rebuff::{Breaker, Budget, Policy};
/// use rebuff::client::middleware::RetryMiddleware;
///
/// static UPSTREAM: Breaker = Breaker::new();
/// static RETRIES: Budget = Budget::new();
///
/// let retries = RetryMiddleware::new(Policy::DEFAULT.attempt_timeout(Duration::from_secs(5)))
///     .breaker(&UPSTREAM)
///     .budget(&RETRIES);
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(retries)
///     .build();
/// # let _ = client;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RetryMiddleware {
    policy: Policy,
    breaker: Option<super::Guard>,
    budget: Option<&'static Budget>,
    auto_key: bool,
    body_limit: usize,
}

impl RetryMiddleware {
    /// Retries under `policy`, adding an `Idempotency-Key` to
    /// non-idempotent requests.
    #[must_use]
    pub const fn new(policy: Policy) -> Self {
        RetryMiddleware {
            policy,
            breaker: None,
            budget: None,
            auto_key: true,
            body_limit: DEFAULT_ERROR_BODY_LIMIT,
        }
    }

    /// Goes through `breaker`: refused at once while it is open, paused
    /// while the host asked everyone to wait.
    #[must_use]
    pub const fn breaker(mut self, breaker: &'static Breaker) -> Self {
        self.breaker = Some(super::Guard::One(breaker));
        self
    }

    /// Goes through the breaker of each request's host and port in
    /// `breakers`, under the key `host:port` (`api.example.com:443`, the
    /// scheme's port when the URL gives none): one host failing opens its
    /// own circuit only, and a 429 from it pauses it alone. Instead of
    /// [`breaker`](Self::breaker).
    #[must_use]
    pub const fn breakers(mut self, breakers: &'static Breakers) -> Self {
        self.breaker = Some(super::Guard::PerHost(breakers));
        self
    }

    /// Draws every retry from `budget`.
    #[must_use]
    pub const fn budget(mut self, budget: &'static Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Whether to add an `Idempotency-Key` to requests of a method that is
    /// not idempotent (POST, PATCH, and any but those
    /// [`is_idempotent`](crate::client::is_idempotent) names) that have none (default: yes).
    #[must_use]
    pub const fn auto_key(mut self, on: bool) -> Self {
        self.auto_key = on;
        self
    }

    /// How much of an error body is read (default
    /// [`DEFAULT_ERROR_BODY_LIMIT`]).
    #[must_use]
    pub const fn error_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    async fn run(
        &self,
        mut request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let method = request.method().clone();
        let repeatable = idempotent::prepare(
            &method,
            request.headers_mut(),
            self.auto_key,
            IdempotencyKey::new(),
        );
        // Kept to copy for each further attempt; a streamed body cannot be.
        let template = request.try_clone();
        let mut extras = WithExtras::NONE;
        if let Some(guard) = self.breaker {
            let url = request.url();
            extras = extras.breaker(guard.of(|| {
                (
                    url.host_str().unwrap_or_default(),
                    url.port_or_known_default(),
                )
            }));
        }
        if let Some(budget) = self.budget {
            extras = extras.budget(budget);
        }
        if template.is_none() {
            extras = extras.when(|_| Advice::Stop);
        } else if !repeatable {
            extras = extras.when(|failed: &Failed| retry_if_unsent(&failed.error));
        }
        let limit = self.body_limit;
        let mut first = Some(request);
        let result: Result<reqwest::Response, Failed> = crate::__rebuff_retry!(async, &self.policy, extras, _ => async {
            let request = match first.take() {
                Some(request) => request,
                None => match template.as_ref().and_then(reqwest::Request::try_clone) {
                    Some(request) => request,
                    None => return Err(Failed::from(ClientError::Request("the request body cannot be sent again".into()))),
                },
            };
            match next.clone().run(request, extensions).await {
                Ok(response) if super::is_error_status(response.status()) => Err(Failed::answer(response, limit).await),
                Ok(response) => Ok(response),
                Err(err) => Err(Failed::transport(err)),
            }
        });
        match result {
            Ok(response) => Ok(response),
            Err(failed) => failed.into_result(),
        }
    }
}

#[async_trait::async_trait]
impl Middleware for RetryMiddleware {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        self.run(request, extensions, next).await
    }
}

/// A failed attempt: the error the engine decides on, and what to hand on
/// if it is the last.
struct Failed {
    error: ClientError,
    kept: Kept,
}

enum Kept {
    /// The error response, its body read (up to the limit).
    Answer(http::Response<Bytes>),
    /// The failure of the rest of the chain, as it was.
    Transport(reqwest_middleware::Error),
    /// Nothing but the error (a timeout, the breaker's refusal).
    Nothing,
}

impl Failed {
    async fn answer(response: reqwest::Response, limit: usize) -> Self {
        let (parts, body) = http::Response::from(response).into_parts();
        let body = Bytes::from(super::read_error_body(body, limit).await);
        let error =
            ClientError::from_remote(RemoteError::parse(parts.status, &parts.headers, &body));
        let mut kept = http::Response::new(body);
        *kept.status_mut() = parts.status;
        *kept.version_mut() = parts.version;
        *kept.headers_mut() = parts.headers;
        // The body handed on is what was read (at most the cap, within the
        // error-body time): its length, not the one first announced.
        let length = http::HeaderValue::from(kept.body().len());
        let headers = kept.headers_mut();
        headers.remove(http::header::TRANSFER_ENCODING);
        headers.insert(http::header::CONTENT_LENGTH, length);
        Failed {
            error,
            kept: Kept::Answer(kept),
        }
    }

    fn transport(err: reqwest_middleware::Error) -> Self {
        let err = match err {
            // A later `RetryMiddleware`'s own failure (its timeout, its
            // breaker's refusal, the error it gave up on): decided on as
            // what it is, handed on as it was.
            reqwest_middleware::Error::Middleware(inner) => match inner.downcast::<ClientError>() {
                Ok(error) => return Failed::from(error),
                Err(inner) => reqwest_middleware::Error::Middleware(inner),
            },
            err @ reqwest_middleware::Error::Reqwest(_) => err,
        };
        let error = match &err {
            reqwest_middleware::Error::Reqwest(inner) => classify(inner),
            // A middleware after this one passing reqwest's own failure
            // on: read as reqwest's, as `from_middleware` does.
            reqwest_middleware::Error::Middleware(inner) => match inner.downcast_ref() {
                Some(reqwest) => classify(reqwest),
                // A middleware after this one failed: retrying cannot help.
                None => ClientError::Request(inner.to_string().into()),
            },
        };
        Failed {
            error,
            kept: Kept::Transport(err),
        }
    }

    fn into_result(self) -> reqwest_middleware::Result<reqwest::Response> {
        match self.kept {
            Kept::Answer(response) => Ok(reqwest::Response::from(response)),
            Kept::Transport(err) => Err(err),
            Kept::Nothing => Err(reqwest_middleware::Error::middleware(self.error)),
        }
    }
}

/// What a reqwest failure is, without taking it (it is handed on as it
/// was).
fn classify(err: &reqwest::Error) -> ClientError {
    super::reqwest::Failure::of(err).into_error(err.to_string().into())
}

impl From<ClientError> for Failed {
    fn from(error: ClientError) -> Self {
        Failed {
            error,
            kept: Kept::Nothing,
        }
    }
}

impl From<CircuitOpen> for Failed {
    fn from(open: CircuitOpen) -> Self {
        Failed::from(ClientError::CircuitOpen(open))
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl Retryable for Failed {
    fn retry_advice(&self) -> Advice {
        self.error.retry_advice()
    }

    fn retry_status(&self) -> Option<http::StatusCode> {
        self.error.status()
    }

    fn request_id(&self) -> Option<&str> {
        self.error.request_id()
    }

    fn reached_service(&self) -> bool {
        self.error.reached_service()
    }

    fn timeout_error() -> Option<fn(TimedOut) -> Self> {
        Some(|timeout| {
            Failed::from(ClientError::Timeout {
                after: Some(timeout.limit),
            })
        })
    }
}

impl crate::CanTimeOut for Failed {}

/// A reqwest-middleware failure as a [`ClientError`]: the breaker's
/// refusal and the policy's timeouts (which [`RetryMiddleware`] reports as
/// a `ClientError` inside [`reqwest_middleware::Error::Middleware`]) come
/// back as they were, reqwest's own errors as [`from_reqwest`] reads them.
///
/// ```
/// use rebuff::client::ClientError;
/// use rebuff::client::middleware::from_middleware;
///
/// let timeout: ClientError = ClientError::Timeout { after: None };
/// let err: ClientError = from_middleware(reqwest_middleware::Error::middleware(timeout));
/// assert!(err.is_timeout());
/// ```
#[must_use]
pub fn from_middleware<E: FromRemote>(err: reqwest_middleware::Error) -> ClientError<E> {
    match err {
        reqwest_middleware::Error::Reqwest(err) => from_reqwest(err),
        reqwest_middleware::Error::Middleware(err) => match err.downcast::<ClientError>() {
            Ok(client) => client.decode(),
            Err(other) => match other.downcast::<reqwest::Error>() {
                // A middleware passing reqwest's own failure on.
                Ok(reqwest) => from_reqwest(reqwest),
                // Another middleware's failure: as the retry middleware
                // takes it, retrying cannot help.
                Err(other) => ClientError::Request(other.into()),
            },
        },
    }
}

impl super::reqwest::RequestBuilderExt for reqwest_middleware::RequestBuilder {
    async fn send_api<T, E>(self) -> Result<T, ClientError<E>>
    where
        T: DeserializeOwned,
        E: FromRemote + Send,
    {
        let response = self.send().await.map_err(from_middleware::<E>)?;
        response.api().await
    }
}

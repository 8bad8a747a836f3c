//! The rate limiter alone, as a tower layer, for stacks without the
//! [`Surface`](crate::server::Surface) (which has it built in).

use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context as TaskContext, Poll};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;

use crate::ApiError;
use crate::ratelimit::{Check, Decided, RateLimiter, Verdict};

/// `limiter` as a tower layer on its own: the rate-limit headers on every
/// response, a caller over its limit answered with a 429 rendered as `E`'s
/// errors are (inside a [`Surface`](crate::server::Surface), with the
/// request's context; alone, with a fresh request id).
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use rebuff::ratelimit::RateLimiter;
/// use rebuff::server::axum::RateLimitLayer;
///
/// # #[derive(Debug, thiserror::Error, rebuff::ApiError)]
/// # enum ApiError { #[error("gone")] #[api(status = 410)] Gone }
/// let app: Router = Router::new()
///     .route("/", get(|| async { "ok" }))
///     .layer(RateLimitLayer::<ApiError>::new(RateLimiter::new()));
/// # let _ = app;
/// ```
pub struct RateLimitLayer<E> {
    limiter: Arc<RateLimiter>,
    _errors: PhantomData<fn() -> E>,
}

impl<E> Clone for RateLimitLayer<E> {
    fn clone(&self) -> Self {
        RateLimitLayer {
            limiter: self.limiter.clone(),
            _errors: PhantomData,
        }
    }
}

impl<E> core::fmt::Debug for RateLimitLayer<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("RateLimitLayer")
            .field(&self.limiter)
            .finish()
    }
}

impl<E: ApiError> RateLimitLayer<E> {
    /// The layer of `limiter`.
    #[must_use]
    pub fn new(limiter: RateLimiter) -> Self {
        RateLimitLayer {
            limiter: Arc::new(limiter),
            _errors: PhantomData,
        }
    }
}

impl<S, E: ApiError> tower::Layer<S> for RateLimitLayer<E> {
    type Service = RateLimitService<S, E>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`RateLimitLayer`].
pub struct RateLimitService<S, E> {
    inner: S,
    layer: RateLimitLayer<E>,
}

impl<S: Clone, E> Clone for RateLimitService<S, E> {
    fn clone(&self) -> Self {
        RateLimitService {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: core::fmt::Debug, E> core::fmt::Debug for RateLimitService<S, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RateLimitService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, E> tower::Service<Request> for RateLimitService<S, E>
where
    S: tower::Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    E: ApiError + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RateLimitFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let limiter = &self.layer.limiter;
        // Decided already, by a surface or a layer outside with this
        // limiter: charged once, its headers written there.
        let Some(decided) = limiter.claim(req.extensions().get::<Decided>()) else {
            return RateLimitFuture {
                state: State::Admitted {
                    future: self.inner.call(req),
                    verdict: None,
                },
            };
        };
        req.extensions_mut().insert(decided);
        let view = super::request_view(&req);
        match limiter.check(&view) {
            Check::Now(verdict) => self.decided(req, verdict),
            Check::Later(pending) => {
                // A remote store: decide, then serve, in one boxed future
                // (by the service made ready).
                let limiter = limiter.clone();
                let mut inner = crate::ready::take_ready(&mut self.inner);
                let layer = self.layer.clone();
                RateLimitFuture {
                    state: State::Boxed {
                        future: Box::pin(async move {
                            let verdict = limiter.verdict(pending.route, pending.deciding.await);
                            core::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
                            let mut service = RateLimitService { inner, layer };
                            service.decided(req, verdict).await
                        }),
                    },
                }
            }
        }
    }
}

impl<S, E> RateLimitService<S, E>
where
    S: tower::Service<Request, Response = Response>,
    E: ApiError,
{
    fn decided(
        &mut self,
        req: Request,
        mut verdict: Verdict,
    ) -> RateLimitFuture<S::Future, S::Error> {
        let limiter = self.layer.limiter.clone();
        match verdict.take_refusal() {
            // Rendered when polled: inside a surface, in the request's
            // context, which the surface sets for its future's polls.
            Some(rejection) => RateLimitFuture {
                state: State::Refused {
                    refused: Some(Box::new(Refused {
                        rejection,
                        verdict,
                        limiter,
                        render: crate::server::respond_refusal::<E>,
                    })),
                },
            },
            None => RateLimitFuture {
                state: State::Admitted {
                    future: self.inner.call(req),
                    verdict: Some((verdict, limiter)),
                },
            },
        }
    }
}

/// A refused request, answered when its future is polled.
struct Refused {
    rejection: crate::Rejection,
    verdict: Verdict,
    limiter: Arc<RateLimiter>,
    render: fn(&crate::Rejection) -> http::Response<bytes::Bytes>,
}

pin_project_lite::pin_project! {
    /// The future of [`RateLimitService`].
    pub struct RateLimitFuture<F, E> {
        #[pin]
        state: State<F, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, E> {
        Admitted { #[pin] future: F, verdict: Option<(Verdict, Arc<RateLimiter>)> },
        Refused { refused: Option<Box<Refused>> },
        Boxed { future: Pin<Box<dyn Future<Output = Result<Response, E>> + Send>> },
    }
}

impl<F, E> Future for RateLimitFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Admitted { future, verdict } => {
                let mut response = core::task::ready!(future.poll(cx))?;
                if let Some((verdict, limiter)) = verdict.take() {
                    verdict.write_headers(&limiter, response.headers_mut());
                }
                Poll::Ready(Ok(response))
            }
            StateProj::Refused { refused } => Poll::Ready(Ok(answer(
                &refused.take().expect("polled after completion"),
            ))),
            StateProj::Boxed { future } => future.as_mut().poll(cx),
        }
    }
}

/// A refused request's answer, with its headers: one copy for every
/// service and error type, out of the admitted requests' way.
#[cold]
#[inline(never)]
fn answer(refused: &Refused) -> Response {
    let mut response = (refused.render)(&refused.rejection).map(Body::from);
    refused
        .verdict
        .write_headers(&refused.limiter, response.headers_mut());
    response
}

impl<F, E> core::fmt::Debug for RateLimitFuture<F, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RateLimitFuture").finish_non_exhaustive()
    }
}

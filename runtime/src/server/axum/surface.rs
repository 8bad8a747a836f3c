//! The [`Surface`] as a tower layer: each request in its context and span,
//! its rate limit checked, its body limited, its panics caught; each answer
//! restyled where the router left it bare or a framework's text stands in
//! place of an error, with the request id and the rate-limit headers.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context as TaskContext, Poll};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use http_body::Body as _;

use crate::context::RequestPath;
use crate::server::idempotency::layer::serve_keyed;
use crate::server::idempotency::{Honoured, IdempotencyKeys, Keyed};
use crate::server::surface::{
    Rendered, Replaced, Unrendered, is_plain_text, keep_headers, unrendered,
};
use crate::server::{
    CatchUnwind, Surface, request_span, respond_rejection_for, respond_rejection_in,
};
use crate::{ApiError, Context, X_REQUEST_ID};

#[cfg(feature = "ratelimit")]
use crate::ratelimit::{Check, Decided, Pending, RateLimiter, Verdict};

/// Without the `ratelimit` feature no decision is ever pending.
#[cfg(not(feature = "ratelimit"))]
#[doc(hidden)]
pub(crate) enum Pending {}
#[cfg(not(feature = "ratelimit"))]
type RateLimiter = ();

impl<S, E: ApiError> tower::Layer<S> for Surface<E> {
    type Service = SurfaceService<S, E>;

    fn layer(&self, inner: S) -> Self::Service {
        SurfaceService {
            inner,
            surface: self.clone(),
        }
    }
}

/// The service of the [`Surface`] layer.
pub struct SurfaceService<S, E> {
    inner: S,
    surface: Surface<E>,
}

impl<S: Clone, E> Clone for SurfaceService<S, E> {
    fn clone(&self) -> Self {
        SurfaceService {
            inner: self.inner.clone(),
            surface: self.surface.clone(),
        }
    }
}

impl<S: core::fmt::Debug, E> core::fmt::Debug for SurfaceService<S, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SurfaceService")
            .field("inner", &self.inner)
            .field("surface", &self.surface)
            .finish()
    }
}

/// What the rate limiter said of a request, for its answer. Boxed: a
/// verdict is a couple of hundred bytes, which every request's future
/// would carry (and copy as it moves) whether a limiter is set or not.
#[cfg(feature = "ratelimit")]
type Said = Option<Box<(Verdict, std::sync::Arc<RateLimiter>)>>;
#[cfg(not(feature = "ratelimit"))]
type Said = Option<core::convert::Infallible>;

impl<S, A> tower::Service<Request> for SurfaceService<S, A>
where
    S: tower::Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    A: ApiError,
{
    type Response = Response;
    type Error = S::Error;
    type Future = SurfaceFuture<S, A>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let chosen = req
            .extensions()
            .get::<tower_http::request_id::RequestId>()
            .map(tower_http::request_id::RequestId::header_value);
        let id = crate::server::safe_id([chosen, req.headers().get(X_REQUEST_ID)]);
        let accept = req
            .headers()
            .get_all(header::ACCEPT)
            .iter()
            .map(HeaderValue::as_bytes);
        let path = match req.uri().path_and_query() {
            Some(path) => RequestPath::shared(path.clone()),
            None => RequestPath::text(req.uri().path()),
        };
        let ctx = self.surface.context(id, accept, path);
        let span = request_span(&ctx, || req.method().as_str(), || req.uri().path());
        let after = After {
            method: req.method().clone(),
            catch_panics: self.surface.catches_panics(),
        };
        // The span entered only when something listens: entering a
        // disabled one costs a copy of the router's future on its way out.
        let inner = if span.is_disabled() {
            self.start(req, &ctx)
        } else {
            span.in_scope(|| self.start(req, &ctx))
        };
        SurfaceFuture {
            ctx,
            span,
            inner,
            after: Some(after),
        }
    }
}

impl<S, A> SurfaceService<S, A>
where
    S: tower::Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    A: ApiError,
{
    /// The request's rate limit, then the rest: refused at once, waiting
    /// for a remote store, or served.
    // Inlined into `call` with `serve`: fewer copies of the router's
    // future on its way out of `call`.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn start(
        &mut self,
        #[cfg_attr(not(feature = "ratelimit"), allow(unused_mut))] mut req: Request,
        ctx: &Context,
    ) -> Inner<S, A> {
        #[cfg(feature = "ratelimit")]
        if let Some((limiter, decided)) = self.surface.limiter().and_then(|limiter| {
            // Decided already by a surface or a layer outside with this
            // limiter: charged once, its headers written there.
            Some((limiter, limiter.claim(req.extensions().get::<Decided>())?))
        }) {
            req.extensions_mut().insert(decided);
            let view = super::request_view(&req);
            // The resolver is the application's code: its panic is
            // answered as a handler's is.
            let checked =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| limiter.check(&view)));
            return match checked {
                Err(payload) => Inner::panicked(payload, None),
                Ok(Check::Now(verdict)) => {
                    let said = Some(Box::new((verdict, limiter.clone())));
                    serve(&mut self.inner, &self.surface, req, ctx, said)
                }
                Ok(Check::Later(pending)) => Inner::Deciding {
                    deciding: Box::new(Deciding {
                        pending,
                        verdict: None,
                        limiter: limiter.clone(),
                        service: crate::ready::take_ready(&mut self.inner),
                        surface: self.surface.clone(),
                        req: Some(req),
                    }),
                },
            };
        }
        serve(&mut self.inner, &self.surface, req, ctx, None)
    }
}

/// Answers a request the limiter refused, or limits its body and hands it
/// to the router. A body whose exact size (from `Content-Length`) is over
/// the limit is refused unread; one of unknown size (chunked) is cut off at
/// the limit as it is read. A request whose idempotency key the surface
/// honours is served through it ([`serve_keyed`]), boxed.
#[allow(clippy::inline_always)]
#[inline(always)]
fn serve<S, A>(
    inner: &mut S,
    surface: &Surface<A>,
    mut req: Request,
    ctx: &Context,
    said: Said,
) -> Inner<S, A>
where
    S: tower::Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    A: ApiError,
{
    #[cfg(feature = "ratelimit")]
    let said = match said {
        Some(mut said) => match said.0.take_refusal() {
            Some(refused) => {
                let response = respond_rejection_in(&refused, ctx).map(Body::from);
                return Inner::done(Ok(response), Some(said));
            }
            None => Some(said),
        },
        None => None,
    };
    if let Some(limit) = surface.get_body_limit() {
        match req.body().size_hint().exact() {
            Some(size) => {
                if let Some(refused) = surface.refuse_size(size) {
                    let response = respond_rejection_in(&refused, ctx).map(Body::from);
                    return Inner::done(Ok(response), said);
                }
            }
            None => {
                let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                req = req.map(|body| Body::new(http_body_util::Limited::new(body, limit)));
            }
        }
    }
    // The limit is this layer's, and axum's extractors keep to it too: they
    // read the body a layer inside this one may have replaced (a
    // decompressed one, say), which the check above never saw. Axum's own
    // default is the same 2 MiB, which needs nothing set.
    match surface.get_body_limit() {
        Some(crate::server::DEFAULT_BODY_LIMIT) => {}
        Some(limit) => {
            DefaultBodyLimit::max(usize::try_from(limit).unwrap_or(usize::MAX)).apply(&mut req);
        }
        None => DefaultBodyLimit::disable().apply(&mut req),
    }
    let unclaimed = |_: &&IdempotencyKeys| req.extensions().get::<Honoured>().is_none();
    if let Some(keys) = surface.idempotency_keys().filter(unclaimed) {
        // Honoured already by a layer outside, it is not claimed again.
        // The scope is the user's code: its panic is answered as a
        // handler's is.
        let max_request = keys.max_request(surface.get_body_limit());
        let keyed_in = || keyed(keys, max_request, &req);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(keyed_in)) {
            Ok(Ok(None)) => {}
            Ok(Err(unusable)) => {
                let response = respond_rejection_in(&unusable, ctx).map(Body::from);
                return Inner::done(Ok(response), said);
            }
            Ok(Ok(Some(keyed))) => {
                // Honoured here, and by no idempotency layer inside.
                req.extensions_mut().insert(Honoured);
                let inner = crate::ready::take_ready(inner);
                let store = std::sync::Arc::clone(keys.store());
                let future = serve_keyed(inner, store, keyed, max_request, req);
                return Inner::Keyed {
                    future: CatchUnwind::new(Box::pin(future)),
                    said,
                };
            }
            Err(payload) => return Inner::panicked(payload, said),
        }
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.call(req))) {
        Ok(future) => Inner::Running {
            future: CatchUnwind::new(future),
            said,
        },
        Err(payload) => Inner::panicked(payload, said),
    }
}

/// The scoped key of a request whose `Idempotency-Key` the surface
/// honours; a 400 for an unusable key, a 413 for a body larger than
/// `max_request` can fingerprint.
fn keyed(
    keys: &IdempotencyKeys,
    max_request: usize,
    req: &Request,
) -> Result<Option<Keyed>, crate::Rejection> {
    let Some(keyed) = keys.keyed(&super::request_view(req))? else {
        return Ok(None);
    };
    Keyed::fits(req.body().size_hint().exact(), max_request)?;
    Ok(Some(keyed))
}

/// A keyed request being served, or answered from its store.
type KeyedFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

/// What the answer of a request needs once the router is done (with its
/// context, which its scope keeps).
struct After {
    method: Method,
    catch_panics: bool,
}

/// The outcome of the router's future: its result, or the panic it raised.
type Outcome<T, E> = Result<Result<T, E>, Box<dyn core::any::Any + Send>>;

/// A request's end: its outcome, and what the limiter said of it.
#[doc(hidden)]
pub(crate) struct Finished<E> {
    outcome: Outcome<Response, E>,
    said: Said,
}

/// A request waiting for a remote store's rate-limit decision (never,
/// without the `ratelimit` feature).
#[doc(hidden)]
#[cfg_attr(not(feature = "ratelimit"), allow(dead_code))]
pub(crate) struct Deciding<S, A> {
    pending: Pending,
    /// The store's decision once it came, while the router gets ready: the
    /// store's future is done then, and must not be polled again.
    #[cfg(feature = "ratelimit")]
    verdict: Option<Verdict>,
    limiter: std::sync::Arc<RateLimiter>,
    service: S,
    surface: Surface<A>,
    req: Option<Request>,
}

pin_project_lite::pin_project! {
    /// A request inside its context: waiting for the limiter's store,
    /// served by the router (its panics caught), served through its
    /// idempotency key, or answered at once.
    ///
    /// No state is larger than the router's future: a request waiting for
    /// its decision, a finished response and the limiter's verdict are
    /// boxed (each is rare, or hundreds of bytes that every request's
    /// future would carry and copy each time it moves). The router's
    /// future is not: boxing it saved copies but cost more, in time, than
    /// it saved.
    #[project = InnerProj]
    #[doc(hidden)]
    pub(crate) enum Inner<S: tower::Service<Request>, A> {
        Deciding { deciding: Box<Deciding<S, A>> },
        Running { #[pin] future: CatchUnwind<S::Future>, said: Said },
        Keyed { #[pin] future: CatchUnwind<KeyedFuture<S::Error>>, said: Said },
        Done { finished: Option<Box<Finished<S::Error>>> },
    }
}

impl<S: tower::Service<Request>, A> Inner<S, A> {
    fn done(result: Result<Response, S::Error>, said: Said) -> Self {
        Inner::Done {
            finished: Some(Box::new(Finished {
                outcome: Ok(result),
                said,
            })),
        }
    }

    /// Ended by a panic (`payload`), answered as the surface answers them.
    fn panicked(payload: Box<dyn core::any::Any + Send>, said: Said) -> Self {
        Inner::Done {
            finished: Some(Box::new(Finished {
                outcome: Err(payload),
                said,
            })),
        }
    }
}

impl<S, A> Future for Inner<S, A>
where
    S: tower::Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    A: ApiError,
{
    type Output = Finished<S::Error>;

    // Only a rate-limit decision moves on to another state; without the
    // feature every arm returns.
    #[cfg_attr(not(feature = "ratelimit"), allow(clippy::never_loop))]
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                #[cfg(not(feature = "ratelimit"))]
                InnerProj::Deciding { deciding } => match deciding.pending {},
                #[cfg(feature = "ratelimit")]
                InnerProj::Deciding { deciding } => {
                    let Deciding {
                        pending,
                        verdict,
                        limiter,
                        service,
                        surface,
                        req,
                    } = &mut **deciding;
                    // The remote store's decision, kept, then the router's
                    // readiness (ready already, as `call` was given it; asked
                    // again, which a ready service answers at once).
                    if verdict.is_none() {
                        // A store of the application's own may panic.
                        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            pending.deciding.as_mut().poll(cx)
                        }));
                        let decided = match polled {
                            Ok(polled) => core::task::ready!(polled),
                            Err(payload) => {
                                self.set(Inner::panicked(payload, None));
                                continue;
                            }
                        };
                        *verdict = Some(limiter.verdict(pending.route, decided));
                    }
                    if let Err(err) = core::task::ready!(service.poll_ready(cx)) {
                        self.set(Inner::done(Err(err), None));
                        continue;
                    }
                    let verdict = verdict.take().expect("the store's decision");
                    let req = req.take().expect("a request to serve");
                    let ctx = crate::server::context();
                    let said = Some(Box::new((verdict, limiter.clone())));
                    let next = serve(service, surface, req, &ctx, said);
                    self.set(next);
                }
                InnerProj::Running { future, said } => {
                    let outcome = core::task::ready!(future.poll(cx));
                    return Poll::Ready(Finished {
                        outcome,
                        said: said.take(),
                    });
                }
                InnerProj::Keyed { future, said } => {
                    let outcome = core::task::ready!(future.poll(cx));
                    return Poll::Ready(Finished {
                        outcome,
                        said: said.take(),
                    });
                }
                InnerProj::Done { finished } => {
                    return Poll::Ready(*finished.take().expect("polled after completion"));
                }
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`SurfaceService`]: the request run in its context and
    /// span, then its answer restyled and given the request id and the
    /// rate-limit headers.
    ///
    /// One flat future, not the router's wrapped in a span's and then in a
    /// context's: each wrapper was another copy of it as it was built.
    pub struct SurfaceFuture<S: tower::Service<Request>, A> {
        ctx: Context,
        span: tracing::Span,
        #[pin]
        inner: Inner<S, A>,
        after: Option<After>,
    }

    impl<S: tower::Service<Request>, A> PinnedDrop for SurfaceFuture<S, A> {
        // What the request left undone is dropped in its span and
        // context, as it ran.
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let mut inner = this.inner;
            if matches!(*inner, Inner::Done { finished: None }) {
                return;
            }
            let _entered = (!this.span.is_disabled()).then(|| this.span.enter());
            crate::server::current::set(this.ctx, || inner.set(Inner::Done { finished: None }));
        }
    }
}

impl<S, A> Future for SurfaceFuture<S, A>
where
    S: tower::Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    A: ApiError,
{
    type Output = Result<Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut inner = this.inner;
        // The answer too is made in the request's span: what the surface
        // logs of it (the router's own 404, a panic) is filed under it.
        let _entered = (!this.span.is_disabled()).then(|| this.span.enter());
        let polled = crate::server::current::set(this.ctx, || {
            let polled = inner.as_mut().poll(cx);
            if polled.is_ready() {
                // The router's future, done, is dropped here, in the
                // request's span and context; polled again, the surface's
                // future says so.
                inner.set(Inner::Done { finished: None });
            }
            polled
        });
        let finished = core::task::ready!(polled);
        let after = this.after.take().expect("polled after completion");
        let ctx = &*this.ctx;
        let mut response = match finished.outcome {
            Ok(Ok(response)) => restyle(response, &after.method, ctx),
            Ok(Err(err)) => return Poll::Ready(Err(err)),
            Err(payload) if after.catch_panics => {
                crate::server::respond_to_panic_in(&*payload, ctx).map(Body::from)
            }
            Err(payload) => std::panic::resume_unwind(payload),
        };
        write_said(finished.said, response.headers_mut());
        Poll::Ready(Ok(finish(response, ctx)))
    }
}

/// The limiter's headers onto the response.
#[cfg(feature = "ratelimit")]
fn write_said(said: Said, headers: &mut http::HeaderMap) {
    if let Some(said) = said {
        let (verdict, limiter) = &*said;
        verdict.write_headers(limiter, headers);
    }
}

#[cfg(not(feature = "ratelimit"))]
fn write_said(said: Said, _: &mut http::HeaderMap) {
    if let Some(never) = said {
        match never {}
    }
}

/// An error response rebuff did not render answered in the envelope, its
/// headers kept: the router's bodyless 404 and 405, and a bare or plain
/// text 413 or 5xx (axum's own, a middleware's) whose text must not reach
/// the client ([`unrendered`]). Any other response as it is.
fn restyle(response: Response, method: &Method, ctx: &Context) -> Response {
    let Some(seen) = unrendered_of(&response) else {
        return response;
    };
    let path = ctx.get_instance().unwrap_or_default();
    let limit = ctx.get_body_limit();
    let Some(rejection) = unrendered(seen, method.as_str(), path, limit) else {
        return response;
    };
    let headers = response.headers();
    let replaced = Replaced {
        status: seen.status,
        content_type: headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes),
    };
    let mut restyled = respond_rejection_for(&rejection, &replaced, ctx);
    keep_headers(headers, restyled.headers_mut());
    restyled.map(Body::from)
}

/// What [`unrendered`] reads of an error response rebuff may not have
/// rendered; none for a response that goes out as it is without a closer
/// look (a success, a rendered 413 or 5xx, an error with a body of
/// another status).
fn unrendered_of(response: &Response) -> Option<Unrendered<'_>> {
    let status = response.status();
    if status.as_u16() < 400 {
        return None;
    }
    // The body's size next: it is known without a lookup, and most errors
    // the application renders have a body and are neither 413 nor 5xx.
    let empty = response.body().size_hint().exact() == Some(0);
    let answerable = status == StatusCode::PAYLOAD_TOO_LARGE || status.is_server_error();
    if (!empty && !answerable) || (answerable && response.extensions().get::<Rendered>().is_some())
    {
        return None;
    }
    let headers = response.headers();
    let content_type = headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes);
    Some(Unrendered {
        status,
        bare: empty && content_type.is_none(),
        plain_text: content_type.is_none_or(is_plain_text),
        retry_after: headers.get(header::RETRY_AFTER).map(HeaderValue::as_bytes),
    })
}

/// Whether a response is a rejection rather than the application's
/// answer: rendered from a [`Rejection`](crate::Rejection) (an
/// extractor's, a fallback's), or one the surface answers as a rejection
/// in its place ([`unrendered`]: the router's bare 404 and 405, axum's own
/// plain-text 413). Idempotency keys do not keep it (see
/// `Claimed::keeps`).
pub(crate) fn is_rejection(response: &Response) -> bool {
    response.extensions().get::<super::Rejected>().is_some()
        || unrendered_of(response).is_some_and(|seen| unrendered(seen, "", "", None).is_some())
}

/// Echoes the request id (an error's response has it already).
fn finish(mut response: Response, ctx: &Context) -> Response {
    let headers = response.headers_mut();
    // A response's few headers are looked through faster than the name is
    // hashed, and an error's has the id among them.
    if headers.len() <= SCANNED && headers.keys().any(|name| *name == X_REQUEST_ID) {
        return response;
    }
    if let header::Entry::Vacant(entry) = headers.entry(X_REQUEST_ID) {
        if let Some(id) = ctx.request_id_value() {
            entry.insert(id);
        }
    }
    response
}

/// Up to how many headers [`finish`] looks through before it hashes.
const SCANNED: usize = 8;

//! The context of the request being served, where the code that serves
//! it can read it: set for the thread while the request's future is
//! polled (and dropped), and only then.
//!
//! The context itself stays in the future; the thread holds a pointer to
//! it. Entering and leaving a request's scope on each poll is so two
//! pointer writes, where a task-local would move the whole context into
//! its slot and back out.

use core::pin::Pin;
use core::task::{Context as TaskContext, Poll};

use crate::Context;

scoped_tls::scoped_thread_local!(static CURRENT: Context);

/// `f` of the context of the request being served, if any.
pub(crate) fn with<R>(f: impl FnOnce(&Context) -> R) -> Option<R> {
    CURRENT.is_set().then(|| CURRENT.with(f))
}

/// `f` with `ctx` as the context of the request being served.
#[cfg(feature = "axum")]
pub(crate) fn set<R>(ctx: &Context, f: impl FnOnce() -> R) -> R {
    CURRENT.set(ctx, f)
}

pin_project_lite::pin_project! {
    /// `future` with `ctx` as the request context: a request's code
    /// reads it while the future is polled, and while it is dropped.
    pub(crate) struct Scoped<F> {
        ctx: Context,
        // `None` once it is done: dropped as it completes, in the scope.
        #[pin]
        future: Option<F>,
    }

    impl<F> PinnedDrop for Scoped<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let mut future = this.future;
            if future.is_some() {
                CURRENT.set(this.ctx, || future.set(None));
            }
        }
    }
}

impl<F> Scoped<F> {
    pub(crate) fn new(ctx: Context, future: F) -> Self {
        Scoped {
            ctx,
            future: Some(future),
        }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut future = this.future;
        CURRENT.set(this.ctx, || {
            let polled = future
                .as_mut()
                .as_pin_mut()
                .expect("polled after completion")
                .poll(cx);
            if polled.is_ready() {
                future.set(None);
            }
            polled
        })
    }
}

impl<F> core::fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Scoped")
            .field("ctx", &self.ctx)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn id() -> Option<String> {
        with(|ctx| ctx.get_request_id().unwrap_or("").to_owned())
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn a_scope_inside_another_is_left_for_the_outer_one() {
        let nested = Scoped::new(Context::new().request_id("req_inner"), async { id() });
        let future = Scoped::new(Context::new().request_id("req_outer"), async move {
            let before = id();
            let nested = nested.await;
            (before, nested, id())
        });
        let ids = block_on(future);
        let expected = |id: &str| Some(id.to_owned());
        assert_eq!(
            ids,
            (
                expected("req_outer"),
                expected("req_inner"),
                expected("req_outer")
            )
        );
        assert_eq!(id(), None, "no context outside a scope");
    }

    /// Ready at once, and keeps what it holds until it is dropped.
    struct Holds(#[allow(dead_code)] ReadsOnDrop);

    impl Future for Holds {
        type Output = ();

        fn poll(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<()> {
            Poll::Ready(())
        }
    }

    #[test]
    fn a_finished_future_is_dropped_in_its_scope_as_it_completes() {
        let seen = Arc::new(Mutex::new(None));
        let guard = ReadsOnDrop(seen.clone());
        let mut future = Box::pin(Scoped::new(
            Context::new().request_id("req_done"),
            Holds(guard),
        ));
        let waker = std::task::Waker::noop();
        assert!(
            future
                .as_mut()
                .poll(&mut TaskContext::from_waker(waker))
                .is_ready()
        );
        assert_eq!(seen.lock().unwrap().as_deref(), Some("req_done"));
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = future.as_mut().poll(&mut TaskContext::from_waker(waker));
        }));
        assert!(again.is_err(), "polled after completion");
    }

    struct ReadsOnDrop(Arc<Mutex<Option<String>>>);

    impl Drop for ReadsOnDrop {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = id();
        }
    }

    #[test]
    fn a_request_dropped_unfinished_drops_its_future_in_its_scope() {
        let seen = Arc::new(Mutex::new(None));
        let guard = ReadsOnDrop(seen.clone());
        let mut future = Box::pin(Scoped::new(
            Context::new().request_id("req_dropped"),
            async move {
                let _guard = guard;
                core::future::pending::<()>().await;
            },
        ));
        let waker = std::task::Waker::noop();
        let polled = future.as_mut().poll(&mut TaskContext::from_waker(waker));
        assert!(polled.is_pending());
        assert_eq!(*seen.lock().unwrap(), None);
        drop(future);
        assert_eq!(seen.lock().unwrap().as_deref(), Some("req_dropped"));
        assert_eq!(id(), None);
    }
}

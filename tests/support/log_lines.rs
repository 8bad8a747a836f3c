//! The lines `tracing` prints, kept in memory for a test to read, and a
//! way for a test to listen on its own thread without missing a line.

use std::sync::{Arc, Mutex, OnceLock};

use tracing::level_filters::LevelFilter;
use tracing::subscriber::{DefaultGuard, Interest};
use tracing::{Dispatch, Metadata, Subscriber};

/// A `tracing_subscriber` writer keeping what it is given.
#[derive(Clone, Default)]
pub struct Lines(pub Arc<Mutex<Vec<u8>>>);

impl Lines {
    /// A subscriber printing plain lines here.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish()
    }

    /// Everything printed so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends this thread's `tracing` events to `subscriber` until the guard
/// drops, without losing any to another test's thread.
///
/// `tracing` decides once per callsite, for the whole process, whether
/// anyone listens, and while a single dispatcher is alive it asks only the
/// thread that reaches the callsite first. A sibling test's thread, which
/// listens to nothing, would then mark a line this test waits for as
/// unheard, and the line would never be written. Two dispatchers kept
/// alive for the whole process, each answering "ask every time", make
/// `tracing` ask every live dispatcher instead, this one included. Two,
/// not one, so that there is more than one even before this one joins:
/// a callsite registered at that moment is not decided on one thread.
pub fn listen_here(subscriber: impl Subscriber + Send + Sync + 'static) -> DefaultGuard {
    static ANCHORS: OnceLock<[Dispatch; 2]> = OnceLock::new();
    ANCHORS.get_or_init(|| [Dispatch::new(Anchor), Dispatch::new(Anchor)]);
    tracing::subscriber::set_default(subscriber)
}

/// A dispatcher that listens to nothing but wants to be asked each time.
struct Anchor;

impl Subscriber for Anchor {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        false
    }
    /// Raises no level by itself: the listening subscribers do.
    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::OFF)
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

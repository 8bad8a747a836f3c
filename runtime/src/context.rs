use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What an envelope knows about the request an error answers: its id, the
/// time, and the `instance` (RFC 9457) it concerns.
///
/// Every part is optional; an envelope leaves out the keys whose value is
/// missing. Building a context may allocate (the id is kept in an
/// [`Arc<str>`] so a context is cheap to clone per response); rendering with
/// one does not.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use rebuff::Context;
///
/// let ctx = Context::new()
///     .request_id("req_abc123")
///     .timestamp(UNIX_EPOCH + Duration::from_secs(1_735_732_800))
///     .instance("/api/v1/agents");
/// assert_eq!(ctx.get_request_id(), Some("req_abc123"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    request_id: Option<Arc<str>>,
    timestamp: Option<SystemTime>,
    instance: Option<Arc<str>>,
    problem: bool,
    envelope: Builtin,
}

/// The built-in envelopes, chosen at run time: the format the server's own
/// errors (framework rejections, unknown routes, panics) are rendered in, so
/// they leave in the same envelope as the application's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Builtin {
    /// [`crate::envelope::Nested`].
    #[default]
    Nested,
    /// [`crate::envelope::Success`].
    Success,
    /// [`crate::envelope::Plain`].
    Plain,
    /// [`crate::envelope::Flat`].
    Flat,
    /// [`crate::envelope::Problem`].
    Problem,
}

/// The latest instant RFC 3339 can write: 9999-12-31T23:59:59.999Z.
const MAX_RFC3339_SECS: u64 = 253_402_300_799;

impl Context {
    /// An empty context: no request id, no timestamp, no instance.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            request_id: None,
            timestamp: None,
            instance: None,
            problem: false,
            envelope: Builtin::Nested,
        }
    }

    /// Asks for RFC 9457 problem details whatever the error type's own
    /// envelope (set by the server layer when content negotiation is on and
    /// the client sent `Accept: application/problem+json`).
    #[must_use]
    pub const fn prefer_problem(mut self, problem: bool) -> Self {
        self.problem = problem;
        self
    }

    /// The envelope for errors that have none of their own: the server's
    /// rejections (bad JSON, unknown route, a panic).
    #[must_use]
    pub const fn envelope(mut self, envelope: Builtin) -> Self {
        self.envelope = envelope;
        self
    }

    /// Whether problem details were asked for.
    #[must_use]
    pub const fn prefers_problem(&self) -> bool {
        self.problem
    }

    /// The envelope for the server's own errors.
    #[must_use]
    pub const fn get_envelope(&self) -> Builtin {
        self.envelope
    }

    /// Sets the request id clients quote to support (`request_id`,
    /// `requestId` and the `X-Request-Id` header).
    #[must_use]
    pub fn request_id(mut self, id: impl Into<Arc<str>>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// Sets when the error happened. Times before 1970 or after the year
    /// 9999, which RFC 3339 cannot write, are clamped to those bounds.
    #[must_use]
    pub fn timestamp(mut self, at: SystemTime) -> Self {
        self.timestamp = Some(clamp_rfc3339(at));
        self
    }

    /// Sets the timestamp to now.
    #[must_use]
    pub fn now(self) -> Self {
        self.timestamp(SystemTime::now())
    }

    /// Sets the RFC 9457 `instance`: a URI reference of this occurrence,
    /// usually the request path.
    #[must_use]
    pub fn instance(mut self, instance: impl Into<Arc<str>>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// The request id, if set.
    #[must_use]
    pub fn get_request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The timestamp, if set.
    #[must_use]
    pub fn get_timestamp(&self) -> Option<SystemTime> {
        self.timestamp
    }

    /// The instance, if set.
    #[must_use]
    pub fn get_instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }
}

fn clamp_rfc3339(at: SystemTime) -> SystemTime {
    match at.duration_since(UNIX_EPOCH) {
        Err(_) => UNIX_EPOCH,
        Ok(since) if since.as_secs() > MAX_RFC3339_SECS => {
            UNIX_EPOCH + Duration::new(MAX_RFC3339_SECS, 999_999_999)
        }
        Ok(_) => at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_outside_rfc3339_are_clamped() {
        let before = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(
            Context::new().timestamp(before).get_timestamp(),
            Some(UNIX_EPOCH)
        );
        let after = UNIX_EPOCH + Duration::from_secs(MAX_RFC3339_SECS + 100);
        let clamped = Context::new().timestamp(after).get_timestamp().unwrap();
        assert_eq!(
            humantime::format_rfc3339_millis(clamped).to_string(),
            "9999-12-31T23:59:59.999Z"
        );
    }
}

//! What an attempt is told about itself, and the idempotency key it carries.

use core::fmt;
use core::time::Duration;

/// What an attempt is told about itself (`#[retry(attempt = name)]`,
/// [`Retry::run_with_attempt`](super::Retry::run_with_attempt)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub(super) number: u32,
    pub(super) elapsed: Duration,
    pub(super) limit: Option<Duration>,
    pub(super) key: IdempotencyKey,
}

impl Attempt {
    /// 1 for the first call, 2 for the first retry, and so on.
    #[must_use]
    pub const fn number(&self) -> u32 {
        self.number
    }

    /// Whether this is a retry rather than the first call.
    #[must_use]
    pub const fn is_retry(&self) -> bool {
        self.number > 1
    }

    /// Time since the first attempt began (including skipped sleeps in test
    /// mode).
    #[must_use]
    pub const fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// How long this attempt may run: the policy's
    /// [`attempt_timeout`](crate::Policy::attempt_timeout), shortened to
    /// what the [`deadline`](crate::Policy::deadline) leaves; `None` when
    /// the policy sets neither.
    ///
    /// An async attempt is cut off at this limit by the engine, when its
    /// error type can say it timed out (`Retryable::timeout_error`; a
    /// derived type with an `#[api(timeout)]` variant can). A blocking
    /// one cannot be, so it should hand the limit to whatever it waits on
    /// (a socket's read timeout, a client's per-request timeout):
    ///
    /// ```no_run
    /// use std::io::Read;
    /// use std::net::TcpStream;
    /// use rebuff::retry::Attempt;
    ///
    /// #[rebuff::retry(deadline = "2s", attempt_timeout = "500ms", attempt = attempt)]
    /// fn read_greeting(addr: &str) -> Result<Vec<u8>, std::io::Error> {
    ///     let mut stream = TcpStream::connect(addr)?;
    ///     stream.set_read_timeout(attempt.limit())?;
    ///     let mut greeting = vec![0; 64];
    ///     let n = stream.read(&mut greeting)?;
    ///     greeting.truncate(n);
    ///     Ok(greeting)
    /// }
    /// # let _ = read_greeting; let _: Option<Attempt> = None;
    /// ```
    #[must_use]
    pub const fn limit(&self) -> Option<Duration> {
        self.limit
    }

    /// A random key, the same for every attempt of one call: send it as
    /// `Idempotency-Key` so the server can tell a retry from a new request.
    #[must_use]
    pub const fn idempotency_key(&self) -> IdempotencyKey {
        self.key
    }
}

/// A random version 4 UUID naming one logical call across its attempts.
///
/// Drawn from `fastrand`'s generator for the thread (seeded per thread
/// from the time and the thread's id): keys differ from call to call,
/// but they are not secrets, and a server scopes them to the caller that
/// sent them, as idempotency keys are meant to be.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdempotencyKey([u8; 16]);

impl IdempotencyKey {
    /// The key of a run that never shows one to its attempts.
    pub(super) const UNUSED: IdempotencyKey = IdempotencyKey([0; 16]);

    /// A fresh random key.
    #[must_use]
    pub fn new() -> Self {
        Self::random(&mut fastrand::Rng::new())
    }

    pub(super) fn random(rng: &mut fastrand::Rng) -> Self {
        let mut bytes = rng.u128(..).to_be_bytes();
        bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
        Self(bytes)
    }

    /// The key as 36 ASCII bytes, `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
    #[must_use]
    pub fn to_ascii(&self) -> [u8; 36] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'-'; 36];
        let mut at = 0;
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                at += 1;
            }
            out[at] = HEX[usize::from(byte >> 4)];
            out[at + 1] = HEX[usize::from(byte & 0x0f)];
            at += 2;
        }
        out
    }
}

impl Default for IdempotencyKey {
    /// A fresh random key, as [`IdempotencyKey::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ascii = self.to_ascii();
        f.write_str(core::str::from_utf8(&ascii).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_version_4_uuids() {
        let key = IdempotencyKey::random(&mut fastrand::Rng::with_seed(7));
        let text = key.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4");
        assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(text.matches('-').count(), 4);
        assert_ne!(IdempotencyKey::new(), IdempotencyKey::new());
    }
}

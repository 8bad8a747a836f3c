//! What both Redis stores (rate limits, idempotency keys) share: the
//! connection, the breaker in front of Redis and how its errors count.

use core::ops::Deref;
use core::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::StoreError;
use crate::breaker::{Breaker, Permit};

/// The breaker in front of Redis: open after 3 failures in a row, a probe
/// a second later.
pub(crate) fn default_breaker() -> Breaker {
    Breaker::new().failures(3).cooldown(Duration::from_secs(1))
}

/// Whether an error of Redis's says it fails for every caller (unreachable,
/// scripting disabled, too many clients, a replica read-only after a
/// failover), which counts against it in the breaker. Only a key of
/// another type under a caller's name (`WRONGTYPE`) is that call's alone.
pub(crate) fn fails_for_everyone(err: &redis::RedisError) -> bool {
    err.code() != Some("WRONGTYPE")
}

/// A connection manager on the Redis at `url` that connects on first use.
/// The stores bound each call with their own timeout, so that a store's
/// timeout can be changed after. The socket sends each command at once
/// (`TCP_NODELAY`), and a connection whose peer vanished (a partition, a
/// failover to another address) is found dead by the kernel, so that the
/// manager reconnects instead of waiting on it: on Linux within seconds
/// (data unacknowledged for 5 s); elsewhere by keepalive probes, which run
/// only while the connection is idle, so that under traffic it takes as
/// long as the system's TCP retransmissions (minutes), the fleet deciding
/// per instance meanwhile.
pub(crate) fn connect_lazily(url: &str) -> Result<ConnectionManager, StoreError> {
    use redis::IntoConnectionInfo as _;
    use redis::io::tcp::{TcpSettings, socket2::TcpKeepalive};
    let keepalive = TcpKeepalive::new().with_time(Duration::from_secs(5));
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    let keepalive = keepalive.with_interval(Duration::from_secs(1));
    let tcp = TcpSettings::default()
        .set_nodelay(true)
        .set_keepalive(keepalive);
    #[cfg(target_os = "linux")]
    let tcp = tcp.set_user_timeout(Duration::from_secs(5));
    let info = url
        .into_connection_info()
        .map_err(StoreError::new)?
        .set_tcp_settings(tcp);
    let client = redis::Client::open(info).map_err(StoreError::new)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(None)
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(client, config).map_err(StoreError::new)
}

/// A breaker's permit for one call to Redis: its outcome recorded once, or
/// given back (nothing counted) if the call ends without one, its future
/// dropped included.
pub(crate) struct Held<B: Deref<Target = Breaker>> {
    breaker: B,
    permit: Option<Permit>,
}

impl<B: Deref<Target = Breaker>> Held<B> {
    /// `permit`, held for `breaker`; `None` holds nothing, and records
    /// nothing.
    pub(crate) fn new(breaker: B, permit: impl Into<Option<Permit>>) -> Self {
        Held {
            breaker,
            permit: permit.into(),
        }
    }

    /// The call worked.
    pub(crate) fn success(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.breaker.record_success(permit);
        }
    }

    /// The call failed in a way that counts against Redis.
    pub(crate) fn failure(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.breaker.record_failure(permit);
        }
    }

    /// The call's outcome says nothing of Redis.
    pub(crate) fn release(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.breaker.release(permit);
        }
    }
}

impl<B: Deref<Target = Breaker>> Drop for Held<B> {
    fn drop(&mut self) {
        self.release();
    }
}

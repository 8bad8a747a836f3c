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
fn fails_for_everyone(err: &redis::RedisError) -> bool {
    !says(err, "WRONGTYPE")
}

/// Whether Redis answered with the error `code`: as the reply's code, or
/// inside an `ERR` a script's failure wraps it in (Redis before 7:
/// `ERR Error running script ...: WRONGTYPE ...`).
fn says(err: &redis::RedisError, code: &str) -> bool {
    match err.code() {
        Some(said) if said == code => true,
        Some("ERR") => err.detail().is_some_and(|detail| detail.contains(code)),
        _ => false,
    }
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
    if let redis::ConnectionAddr::TcpTls { insecure, .. } = info.addr() {
        if *insecure {
            // redis-rs would accept the URL and then fail every connection.
            return Err(StoreError::new(
                "a rediss:// URL asking for #insecure: the stores always check the server's certificate",
            ));
        }
        #[cfg(feature = "redis-tls")]
        choose_crypto();
    }
    let client = redis::Client::open(info).map_err(StoreError::new)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(None)
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_lazy_with_config(client, config).map_err(StoreError::new)
}

/// Makes sure rustls has a crypto provider for `rediss://`: the process's
/// default if it installed one, else aws-lc-rs, installed as the default.
/// With two providers built in (another crate's rustls on ring, say),
/// rustls would choose neither, and panic as the first TLS connection is
/// set up.
#[cfg(feature = "redis-tls")]
fn choose_crypto() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may install one first: its choice stands.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// A store's connection to Redis, cloned for each call. One the store
/// opened itself (from a URL) is opened afresh when Redis answers
/// `READONLY`, or refuses the connection itself ([`stuck`]): redis-rs
/// reconnects only when a connection breaks, so after a failover that
/// demoted the server it is connected to the connection would stay with a
/// replica, every write refused, and a reconnection Redis refused (a
/// password changed and changed back, too many clients) would be the
/// answer to every call after, the fleet deciding per instance until
/// restart.
pub(crate) struct Link<C> {
    current: std::sync::RwLock<Current<C>>,
    reopen: Option<Box<dyn Fn() -> Option<C> + Send + Sync>>,
}

/// A link's connection, how many times it was opened afresh, and when it
/// last was: at most once a second, so that an address that keeps
/// pointing at a replica is not a new connection per call.
struct Current<C> {
    connection: C,
    generation: u64,
    reopened: Option<std::time::Instant>,
}

/// The least time between two openings afresh of a connection.
const REOPEN_EVERY: Duration = Duration::from_secs(1);

impl Link<ConnectionManager> {
    /// A connection manager on the Redis at `url`, connecting on first use
    /// ([`connect_lazily`]), and afresh on `READONLY` or a refusal of the
    /// connection.
    pub(crate) fn open(url: &str) -> Result<Self, StoreError> {
        // redis-rs's connection manager starts on the runtime's tasks, and
        // panics where none runs.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::new(
                "a Redis store is opened inside a tokio runtime (it connects on the runtime's tasks): open it in async code, or within Runtime::enter",
            ));
        }
        let connection = connect_lazily(url)?;
        let url = url.to_owned();
        Ok(Link::reopening(connection, move || {
            connect_lazily(&url).ok()
        }))
    }
}

impl<C: Clone> Link<C> {
    /// The application's own connection, used as it is.
    pub(crate) fn given(connection: C) -> Self {
        Link::on(connection, None)
    }

    /// A connection `reopen` opens afresh when Redis says it is a replica,
    /// or refuses the connection.
    pub(crate) fn reopening(
        connection: C,
        reopen: impl Fn() -> Option<C> + Send + Sync + 'static,
    ) -> Self {
        Link::on(connection, Some(Box::new(reopen)))
    }

    fn on(connection: C, reopen: Option<Box<dyn Fn() -> Option<C> + Send + Sync>>) -> Self {
        Link {
            current: std::sync::RwLock::new(Current {
                connection,
                generation: 0,
                reopened: None,
            }),
            reopen,
        }
    }

    /// The connection for one call, and its generation (for
    /// [`counts_against`](Self::counts_against)).
    pub(crate) fn get(&self) -> (C, u64) {
        let current = match self.current.read() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        (current.connection.clone(), current.generation)
    }

    /// A call on the connection of `generation` failed with `err`: whether
    /// that counts against Redis in the breaker. It does when the error
    /// fails for every caller ([`fails_for_everyone`]), unless it is stale:
    /// a replica's refusal on a connection opened afresh already, which
    /// says nothing of Redis now (else the calls in flight on the old
    /// connection would open the breaker while the new one connects). The
    /// connection is opened afresh if Redis said it is a replica, or the
    /// error is one only a new connection mends ([`stuck`]), once for all
    /// the calls that met it at once.
    pub(crate) fn counts_against(&self, err: &redis::RedisError, generation: u64) -> bool {
        let counts = fails_for_everyone(err);
        let replica = read_only(err);
        let Some(reopen) = self.reopen.as_ref().filter(|_| replica || stuck(err)) else {
            return counts;
        };
        let mut current = match self.current.write() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        if current.generation != generation {
            return false;
        }
        if current
            .reopened
            .is_some_and(|at| at.elapsed() < REOPEN_EVERY)
        {
            return counts;
        }
        current.reopened = Some(std::time::Instant::now());
        if let Some(connection) = reopen() {
            if replica {
                tracing::warn!(target: "rebuff::redis", "Redis answers as a read-only replica (a failover?): connecting afresh");
            } else {
                tracing::warn!(target: "rebuff::redis", error = %err, "Redis refuses the connection: connecting afresh");
            }
            current.connection = connection;
            current.generation = generation.wrapping_add(1);
        }
        counts
    }
}

/// Whether `err` is Redis refusing the connection itself, which fails
/// every call on it until it is opened afresh: a password it no longer
/// takes (or none given), or no room for another client. Anything else
/// (Redis loading, out of memory, busy, a script's failure) passes with
/// time on the same connection, and a broken connection redis-rs mends
/// itself.
fn stuck(err: &redis::RedisError) -> bool {
    err.kind() == redis::ErrorKind::AuthenticationFailed
        || says(err, "NOAUTH")
        || says(err, "WRONGPASS")
        || (err.code() == Some("ERR")
            && err
                .detail()
                .is_some_and(|detail| detail.contains("max number of clients")))
}

/// Whether Redis refused a write as a read-only replica: `READONLY`, or,
/// from a script on Redis 6.2 and before, an `ERR` that carries it.
fn read_only(err: &redis::RedisError) -> bool {
    says(err, "READONLY")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(line: &str) -> redis::RedisError {
        redis::parse_redis_value(format!("{line}\r\n").as_bytes())
            .and_then(redis::Value::extract_error)
            .expect_err("an error reply")
    }

    #[test]
    fn a_store_opened_outside_a_runtime_is_an_error_not_a_panic() {
        let err = Link::open("redis://127.0.0.1:1")
            .err()
            .expect("no runtime here");
        assert!(err.to_string().contains("tokio runtime"), "{err}");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _inside = runtime.enter();
        assert!(Link::open("redis://127.0.0.1:1").is_ok());
    }

    #[test]
    fn only_errors_a_new_connection_mends_open_one() {
        for line in [
            "-WRONGPASS invalid username-password pair or user is disabled.",
            "-NOAUTH Authentication required.",
            "-ERR max number of clients reached",
        ] {
            assert!(stuck(&reply(line)), "{line}");
        }
        for line in [
            "-NOSCRIPT No matching script. Please use EVAL.",
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
            "-LOADING Redis is loading the dataset in memory",
            "-OOM command not allowed when used memory > 'maxmemory'.",
            "-BUSY Redis is busy running a script.",
            "-ERR Error running script (call to f_0123): @user_script:9: bad argument",
        ] {
            assert!(!stuck(&reply(line)), "{line}");
        }
        let broken =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(!stuck(&broken), "redis-rs reconnects itself");
    }

    #[test]
    fn a_key_of_another_type_fails_its_own_call_only_on_every_redis() {
        for line in [
            "-WRONGTYPE Operation against a key holding the wrong kind of value",
            // Redis 5 to 6.2, from inside a script.
            "-ERR Error running script (call to f_0123): @user_script:1: WRONGTYPE \
             Operation against a key holding the wrong kind of value",
        ] {
            assert!(!fails_for_everyone(&reply(line)), "{line}");
        }
        for line in [
            "-ERR max number of clients reached",
            "-NOSCRIPT No matching script.",
            "-READONLY You can't write against a read only replica.",
        ] {
            assert!(fails_for_everyone(&reply(line)), "{line}");
        }
    }

    #[tokio::test]
    async fn a_url_asking_for_tls_is_opened_only_with_the_feature() {
        let opened = Link::open("rediss://127.0.0.1:6380/");
        if cfg!(feature = "redis-tls") {
            assert!(opened.is_ok(), "{:?}", opened.err());
        } else {
            let err = opened.err().expect("no TLS");
            assert!(err.to_string().contains("TLS"), "{err}");
        }
    }

    #[tokio::test]
    async fn a_url_asking_not_to_check_the_certificate_is_refused() {
        let err = Link::open("rediss://127.0.0.1:6380/#insecure")
            .err()
            .expect("refused");
        if cfg!(feature = "redis-tls") {
            assert!(err.to_string().contains("#insecure"), "{err}");
        }
    }

    #[test]
    fn a_url_that_is_not_redis_is_refused_when_opened() {
        assert!(Link::open("not a url").is_err());
    }

    #[test]
    fn a_connection_is_opened_afresh_once_per_refusal_and_at_most_once_a_second() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU32, Ordering};

        let opened = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&opened);
        let link = Link::reopening(0_u32, move || {
            Some(counter.fetch_add(1, Ordering::SeqCst) + 1)
        });
        let refused = reply("-READONLY You can't write against a read only replica.");
        assert_eq!(link.get(), (0, 0));
        // The first refusal on a connection opens it afresh, and counts
        // against Redis; the others on it are stale, and count for nothing.
        assert!(link.counts_against(&refused, 0));
        assert!(!link.counts_against(&refused, 0));
        assert_eq!(link.get(), (1, 1));
        assert_eq!(opened.load(Ordering::SeqCst), 1);
        // The new connection refused at once: not opened again this second.
        assert!(link.counts_against(&refused, 1));
        assert_eq!(link.get(), (1, 1));
        // Another error opens nothing.
        assert!(link.counts_against(&reply("-ERR unknown command 'FOO'"), 1));
        assert_eq!(opened.load(Ordering::SeqCst), 1);
        // A key of another type is one call's: it counts for nothing.
        assert!(!link.counts_against(
            &reply("-WRONGTYPE Operation against a key holding the wrong kind of value"),
            1
        ));
        // An application's own connection is never replaced.
        let given = Link::given(7_u32);
        assert!(given.counts_against(&refused, 0));
        assert_eq!(given.get(), (7, 0));
    }

    #[test]
    fn a_replicas_refusal_reads_as_read_only_on_every_redis() {
        // Redis 7, a write or a script's write.
        assert!(read_only(&reply(
            "-READONLY You can't write against a read only replica. script: abc, on @user_script:5."
        )));
        // Redis 6.2 and before: the script's error wraps it.
        assert!(read_only(&reply(
            "-ERR Error running script (call to f_abc): @user_script:5: @user_script: 5: -READONLY You can't write against a read only replica."
        )));
        assert!(!read_only(&reply("-ERR unknown command 'FOO'")));
        assert!(!read_only(&reply(
            "-WRONGTYPE Operation against a key holding the wrong kind of value"
        )));
    }
}

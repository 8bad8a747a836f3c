//! A fleet of servers sharing Redis: rate limits decided in Redis exactly
//! as in process, leases, the fall back to local limits while Redis is
//! away, idempotency keys, the example servers two at a time, faults, and
//! many instances on one key. Every test starts its own `redis-server`
//! (skipped without one, failed without one under `CI`).

#[allow(dead_code)]
#[path = "../support/redis.rs"]
mod redis_server;

mod concurrency;
mod faults;
mod idempotency;
#[allow(dead_code)] // each binary reads what it needs
#[path = "../support/log_lines.rs"]
mod log_lines;
mod servers;
mod store;
mod tls;

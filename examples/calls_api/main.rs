//! Serves a call-analysis API (`POST /api/v1/calls/analyze`, a
//! multipart upload of `audio_file`, `agent_id` and `contact_id`, with an
//! `X-API-Key`) with rebuff's nested error envelope: invalid formats,
//! missing fields, files over 100 MB, unknown keys and rate limits.
//!
//! Run: `cargo run --example calls_api` (axum), or with
//! `REBUFF_FRAMEWORK=actix` (actix-web). `REBUFF_ADDR` sets the address
//! (default `127.0.0.1:3000`), `REBUFF_API_KEYS` adds keys to the free `demo-key`
//! (`key` or `key:plan`, plans `free`, `pro` and `enterprise`),
//! `REBUFF_RATE_LIMIT` sets the free plan's requests a minute (default 60),
//! `REBUFF_ENTERPRISE_RATE` the enterprise plan's (default 1000).
//! `REBUFF_REDIS_URL` (`redis://host:port`) keeps the rate limits and the
//! idempotency keys in Redis, shared by every server started with it, and
//! `REBUFF_INSTANCES` says how many such servers there are (each decides
//! alone at its share of the limits while Redis is away). With
//! `--features openapi` (either framework), `GET /openapi.json` serves the
//! API's OpenAPI 3.1 document: the upload route with every error it can
//! answer with, each code with an example body.
//!
//! To copy it into a crate of your own: `main.rs`, `app.rs` and
//! `../support/keys.rs` (the key store both example servers share, included
//! by `app.rs` through `#[path]`), with the dependencies `rebuff` (features
//! `axum`, `actix`, `multipart`, `ratelimit`, `redis`), `axum`, `actix-web`,
//! `actix-multipart`, `tokio` (features `macros`, `rt-multi-thread`, `net`),
//! `serde` (feature `derive`), `thiserror`, `futures-util` and `fastrand`;
//! for the document, `utoipa` and `utoipa-axum`
//! behind a feature of your crate named `openapi` (the one `app.rs` tests),
//! and `rebuff`'s `openapi` feature.
//!
//! ```text
//! curl -s localhost:3000/api/v1/calls/analyze -H 'X-API-Key: demo-key' \
//!      -F audio_file=@call.wav -F agent_id=AGENT_001 -F contact_id=CONTACT_001
//! ```

mod app;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("REBUFF_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let config = app::Config::from_env()
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
    let state = app::State::new(config);
    let listener = std::net::TcpListener::bind(&addr)?;
    println!("listening on http://{}", listener.local_addr()?);
    if std::env::var("REBUFF_FRAMEWORK").as_deref() == Ok("actix") {
        app::serve_actix(listener, state)?.await
    } else {
        listener.set_nonblocking(true)?;
        app::serve_axum(tokio::net::TcpListener::from_std(listener)?, state).await
    }
}

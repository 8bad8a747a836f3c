//! Serves a lead-management API (`POST /api/v1/leads`,
//! `GET /api/v1/leads/{id}`) with rebuff's flat error envelope: validation,
//! duplicate emails, unknown leads, bearer keys and per-key rate limits, each
//! failure with its status, code, details, request id and headers.
//!
//! Run: `cargo run --example leads_api` (axum), or with
//! `REBUFF_FRAMEWORK=actix` (actix-web). `REBUFF_ADDR` sets the address
//! (default `127.0.0.1:3000`), `REBUFF_API_KEYS` adds keys to the free `demo-key`
//! (`key` or `key:plan`, plans `free`, `pro` and `enterprise`),
//! `REBUFF_RATE_LIMIT` sets the free plan's requests a minute (default 60),
//! `REBUFF_ENTERPRISE_RATE` the enterprise plan's (default 1000).
//! `REBUFF_REDIS_URL` (`redis://host:port`) keeps the rate limits and the
//! idempotency keys in Redis, shared by every server started with it, and
//! `REBUFF_INSTANCES` says how many such servers there are (each decides
//! alone at its share of the limits while Redis is away). With
//! `--features openapi` (either framework), `GET /openapi.json` serves the API's OpenAPI
//! 3.1 document: every route with every error it can answer with, each
//! code with an example body.
//!
//! To copy it into a crate of your own: `main.rs`, `app.rs` and
//! `../support/keys.rs` (the key store both example servers share, included
//! by `app.rs` through `#[path]`), with the dependencies `rebuff` (features
//! `axum`, `actix`, `ratelimit`, `redis`), `axum`, `actix-web`,
//! `tokio` (features `macros`, `rt-multi-thread`, `net`), `serde` (feature
//! `derive`), `thiserror` and `fastrand`; for the document, `utoipa` and `utoipa-axum`
//! behind a feature of your crate named `openapi` (the one `app.rs` tests),
//! and `rebuff`'s `openapi` feature.
//!
//! ```text
//! curl -s -X POST localhost:3000/api/v1/leads -H 'Authorization: Bearer demo-key' \
//!      -H 'Content-Type: application/json' -d '{"name":"Ada","email":"invalid-email"}'
//! ```

mod app;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("REBUFF_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let framework = match std::env::var("REBUFF_FRAMEWORK").as_deref() {
        Ok("actix") => app::Framework::Actix,
        _ => app::Framework::Axum,
    };
    let config = app::Config::from_env()
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err))?;
    let state = app::State::new(config);
    let listener = std::net::TcpListener::bind(&addr)?;
    println!("listening on http://{}", listener.local_addr()?);
    app::serve(framework, listener, state).await
}

//! The calls example (`examples/calls_api`) served on a free loopback port,
//! for the test binaries that drive it. Included inside a module that
//! includes the example as `app`.

use super::app;

/// Which framework serves the example.
#[derive(Clone, Copy, Debug)]
pub enum Framework {
    Axum,
    Actix,
}

/// A calls server with `config` and uploads of at most `max_upload_mb`,
/// started on the current Tokio runtime; its address (`http://...`).
pub fn start(framework: Framework, config: app::Config, max_upload_mb: u64) -> String {
    let state = app::State::with_limit(config, max_upload_mb);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    match framework {
        Framework::Axum => {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            tokio::spawn(app::serve_axum(listener, state));
        }
        Framework::Actix => {
            tokio::spawn(app::serve_actix(listener, state).unwrap());
        }
    }
    format!("http://{addr}")
}

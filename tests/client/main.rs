//! The client side: `RemoteError::parse` on real published error bodies and
//! on arbitrary input, `#[api(decode)]` rebuilding a derived error from a
//! response, and the reqwest integration, the reqwest-middleware middleware
//! and the tower layer over loopback.

mod blocking;
mod corpus;
mod counted;
mod decode;
mod middleware;
mod parse_props;
mod reqwest_client;
mod tower_client;

#[path = "../support/scripted.rs"]
mod scripted;
#[allow(dead_code)]
#[path = "../support/silent.rs"]
mod silent;

//! The client side: `RemoteError::parse` on real published error bodies and
//! on arbitrary input, `#[api(decode)]` rebuilding a derived error from a
//! response, and the reqwest integration over loopback.

mod corpus;
mod decode;
mod parse_props;
mod reqwest_client;

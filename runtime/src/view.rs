//! [`RequestView`]: a request as rebuff's hooks see it, whatever the
//! framework.

use core::fmt;
use core::net::IpAddr;

/// What rebuff's hooks see of a request, whatever the framework: a rate
/// limiter's resolver of callers, the server surface's scope of
/// idempotency keys.
#[derive(Clone, Copy)]
pub struct RequestView<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) headers: Headers<'a>,
    pub(crate) peer: Option<IpAddr>,
}

/// The request's headers, as the framework keeps them.
#[derive(Clone, Copy)]
pub(crate) enum Headers<'a> {
    Http(&'a http::HeaderMap),
    #[cfg(feature = "actix")]
    Actix(&'a actix_web::http::header::HeaderMap),
}

impl fmt::Debug for RequestView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestView")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl<'a> RequestView<'a> {
    /// A view of an `http` request's parts (for servers that are neither
    /// axum nor actix-web, and tests).
    #[must_use]
    pub fn new(
        method: &'a str,
        path: &'a str,
        headers: &'a http::HeaderMap,
        peer: Option<IpAddr>,
    ) -> Self {
        RequestView {
            method,
            path,
            headers: Headers::Http(headers),
            peer,
        }
    }

    /// A view of an actix-web request.
    #[cfg(feature = "actix")]
    pub(crate) fn actix(
        method: &'a str,
        path: &'a str,
        headers: &'a actix_web::http::header::HeaderMap,
        peer: Option<IpAddr>,
    ) -> Self {
        RequestView {
            method,
            path,
            headers: Headers::Actix(headers),
            peer,
        }
    }

    /// The request method.
    #[must_use]
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request path.
    #[must_use]
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The first value of header `name`, if it is visible ASCII.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&'a str> {
        match self.headers {
            Headers::Http(headers) => headers.get(name)?.to_str().ok(),
            #[cfg(feature = "actix")]
            Headers::Actix(headers) => headers.get(name)?.to_str().ok(),
        }
    }

    /// The first value of header `name`, as sent (any bytes).
    #[must_use]
    pub fn header_bytes(&self, name: &str) -> Option<&'a [u8]> {
        match self.headers {
            Headers::Http(headers) => Some(headers.get(name)?.as_bytes()),
            #[cfg(feature = "actix")]
            Headers::Actix(headers) => Some(headers.get(name)?.as_bytes()),
        }
    }

    /// Every value of header `name`, in the order sent, as its bytes (a
    /// value may hold bytes that are not text, in one part of it only).
    #[cfg(any(feature = "axum", feature = "actix", feature = "ratelimit"))]
    pub(crate) fn header_values(&self, name: &str) -> HeaderValues<'a> {
        match self.headers {
            Headers::Http(headers) => HeaderValues::Http(headers.get_all(name).iter()),
            #[cfg(feature = "actix")]
            Headers::Actix(headers) => HeaderValues::Actix(headers.get_all(name)),
        }
    }

    /// The `Bearer` token of `Authorization`, if any.
    #[must_use]
    pub fn bearer(&self) -> Option<&'a str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|token| !token.is_empty())
    }

    /// The address of the socket's peer, if the server knows it.
    #[must_use]
    pub fn peer(&self) -> Option<IpAddr> {
        self.peer
    }
}

/// The values of one header ([`RequestView::header_values`]).
#[cfg(any(feature = "axum", feature = "actix", feature = "ratelimit"))]
pub(crate) enum HeaderValues<'a> {
    Http(http::header::ValueIter<'a, http::HeaderValue>),
    #[cfg(feature = "actix")]
    Actix(core::slice::Iter<'a, actix_web::http::header::HeaderValue>),
}

#[cfg(any(feature = "axum", feature = "actix", feature = "ratelimit"))]
impl<'a> Iterator for HeaderValues<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            HeaderValues::Http(values) => values.next().map(http::HeaderValue::as_bytes),
            #[cfg(feature = "actix")]
            HeaderValues::Actix(values) => values
                .next()
                .map(actix_web::http::header::HeaderValue::as_bytes),
        }
    }
}

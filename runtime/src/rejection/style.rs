//! A rejection rendered in the style of the API's error type, and alone.

use core::fmt;
use core::marker::PhantomData;
use core::time::Duration;

use http::StatusCode;
use serde::ser::SerializeMap;

use super::Rejection;
use super::kind::CATALOG;
use crate::catalog::Entry;
use crate::style::Style;
use crate::{ApiError, envelope};

/// A rejection in the style of `E`: `E`'s envelope, code case, key case
/// and problem-type base. What a server answers when a request fails
/// before (or outside) its handlers.
pub struct InStyle<'r, E> {
    rejection: &'r Rejection,
    _type: PhantomData<fn() -> E>,
}

impl<'r, E> InStyle<'r, E> {
    /// `rejection`, to be rendered as `E`'s errors are.
    #[must_use]
    pub const fn new(rejection: &'r Rejection) -> Self {
        InStyle {
            rejection,
            _type: PhantomData,
        }
    }
}

impl<E> fmt::Debug for InStyle<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("InStyle")
            .field(self.rejection)
            .field(&core::any::type_name::<E>())
            .finish()
    }
}

impl<E> fmt::Display for InStyle<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.rejection, f)
    }
}

impl<E: ApiError> ApiError for InStyle<'_, E> {
    type Envelope = E::Envelope;
    const STYLE: Style = E::STYLE;

    fn status(&self) -> StatusCode {
        self.rejection.status()
    }

    fn code(&self) -> &str {
        self.rejection.kind().code_in(E::STYLE.code_case)
    }

    fn fmt_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.rejection.write_message(f)
    }

    fn message_str(&self) -> Option<&str> {
        self.rejection.fixed_message()
    }

    fn has_details(&self) -> bool {
        self.rejection.has_details()
    }

    fn serialize_details<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        self.rejection.serialize_details_in(map, E::STYLE.key_case)
    }

    fn retry_after(&self) -> Option<Duration> {
        self.rejection.retry_after()
    }

    fn retryable(&self) -> bool {
        self.rejection.retryable()
    }

    fn rate_limit(&self) -> Option<crate::RateLimit> {
        self.rejection.rate_limit()
    }
}

/// Alone, a rejection renders in the default style: the nested envelope,
/// `snake_case` codes and keys.
impl ApiError for Rejection {
    type Envelope = envelope::Nested;
    const CATALOG: &'static [Entry] = &CATALOG;

    fn status(&self) -> StatusCode {
        self.kind().status()
    }

    fn code(&self) -> &str {
        self.kind().code()
    }

    fn fmt_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }

    fn message_str(&self) -> Option<&str> {
        self.fixed_message()
    }

    fn has_details(&self) -> bool {
        let mut any = false;
        self.each_detail(&mut |_, _| any = true);
        any
    }

    fn serialize_details<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        self.serialize_details_in(map, None)
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Rejection::RequestInProgress { retry_after }
            | Rejection::RateLimited { retry_after, .. }
            | Rejection::Blocked { retry_after }
            | Rejection::Unavailable { retry_after } => Some(Duration::from_secs(*retry_after)),
            _ => None,
        }
    }

    fn retryable(&self) -> bool {
        matches!(
            self,
            Rejection::RequestInProgress { .. }
                | Rejection::Internal
                | Rejection::RateLimited { .. }
                | Rejection::Blocked { .. }
                | Rejection::Unavailable { .. }
        )
    }

    fn rate_limit(&self) -> Option<crate::RateLimit> {
        match self {
            Rejection::RateLimited { rate_limit, .. } => Some(*rate_limit),
            _ => None,
        }
    }
}

/// `rejection` as the response of an API whose errors are `E`: `E`'s own
/// variant if one answers it ([`ApiError::from_rejection`]), else the
/// rejection in `E`'s style; RFC 9457 when the context prefers it.
#[must_use]
pub fn render<E: ApiError>(
    rejection: &Rejection,
    ctx: &crate::Context,
) -> http::Response<bytes::Bytes> {
    match E::from_rejection(rejection) {
        Some(own) => crate::to_response(&own, ctx),
        None => crate::to_response(&InStyle::<E>::new(rejection), ctx),
    }
}

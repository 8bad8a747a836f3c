//! The responses of a server surface: what it answers any request with
//! on its own, as it is configured, for [`Responses`].

use super::Documented;
use super::operation::Served;
use super::responses::Responses;
use crate::{ApiError, Rejection, RejectionKind};

impl<E: Documented> Responses<E> {
    /// Adds the error surface of the one setup call: what `surface`
    /// answers any request with on its own, as it is configured
    /// ([`Surface::rejections`](crate::server::Surface::rejections)).
    ///
    /// - A 500 for a panic, and the body limit's 413 (its example with
    ///   the limit set).
    /// - The rate limiter's 429s, and its header families on every
    ///   response.
    /// - The idempotency keys' 400, 409 and 422, and their 503 when their
    ///   store can fail ([`IdempotencyStore::can_fail`](crate::server::idempotency::IdempotencyStore::can_fail):
    ///   Redis's, not the in-process one). A route of a method
    ///   keys do not apply to never gives them:
    ///   [`add_to_every_operation`](Self::add_to_every_operation) puts
    ///   them only on POST and PATCH operations, and
    ///   [`surface_on`](Self::surface_on) leaves them out for one route.
    /// - Problem details only when the surface negotiates them.
    ///
    /// ```
    /// # #[cfg(feature = "ratelimit")] {
    /// use std::time::Duration;
    /// use rebuff::ApiError;
    /// use rebuff::openapi::Responses;
    /// use rebuff::ratelimit::RateLimiter;
    /// use rebuff::server::Surface;
    /// use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};
    ///
    /// #[derive(Debug, thiserror::Error, ApiError)]
    /// enum OrderError {
    ///     #[error("no such order")]
    ///     #[api(status = 404, message = "No such order")]
    ///     NoSuchOrder,
    /// }
    ///
    /// let surface = Surface::<OrderError>::new()
    ///     .rate_limit(RateLimiter::new())
    ///     .idempotency(IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(3600))));
    /// let every_route = Responses::<OrderError>::none().surface(&surface).build();
    /// assert_eq!(
    ///     every_route.keys().collect::<Vec<_>>(),
    ///     ["400", "409", "413", "422", "429", "500"]
    /// );
    /// # }
    /// ```
    #[cfg(any(feature = "axum", feature = "actix"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "axum", feature = "actix"))))]
    #[must_use]
    pub fn surface(self, surface: &crate::server::Surface<E>) -> Self
    where
        E: ApiError,
    {
        let any = surface.rejections_on(&http::Method::GET);
        let all = surface.rejections();
        let keys_apply = surface.idempotency_keys().is_some();
        let keyed: Vec<RejectionKind> = all
            .iter()
            .copied()
            // Not one named before (on every operation), unless a surface's
            // keys answer it too.
            .filter(|kind| {
                !any.contains(kind)
                    && (!self.rejections.contains(kind) || self.keyed.contains(kind))
            })
            .collect();
        // Listed, and so unflagged, by `surface_with`: flagged again here,
        // each once (the surface's answers have no repeats).
        let mut responses = self.surface_with(surface, &all, keys_apply);
        responses.keyed.extend(keyed);
        responses
    }

    /// [`surface`](Self::surface) for a route answering `method`: without
    /// the idempotency keys' answers on a method they do not apply to
    /// ([`Surface::rejections_on`](crate::server::Surface::rejections_on)).
    /// For one operation: added to every operation of a document, its
    /// answers go to all of them, where `surface` tells methods apart.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rebuff::ApiError;
    /// use rebuff::http::Method;
    /// use rebuff::openapi::Responses;
    /// use rebuff::server::Surface;
    /// use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};
    ///
    /// #[derive(Debug, thiserror::Error, ApiError)]
    /// enum OrderError {
    ///     #[error("no such order")]
    ///     #[api(status = 404, message = "No such order")]
    ///     NoSuchOrder,
    /// }
    ///
    /// let keys = IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(3600)));
    /// let surface = Surface::<OrderError>::new().idempotency(keys);
    /// let get = Responses::<OrderError>::none().surface_on(&surface, &Method::GET).build();
    /// assert_eq!(get.keys().collect::<Vec<_>>(), ["413", "500"]);
    /// let post = Responses::<OrderError>::none().surface_on(&surface, &Method::POST).build();
    /// assert_eq!(post.keys().collect::<Vec<_>>(), ["400", "409", "413", "422", "500"]);
    /// ```
    #[cfg(any(feature = "axum", feature = "actix"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "axum", feature = "actix"))))]
    #[must_use]
    pub fn surface_on(self, surface: &crate::server::Surface<E>, method: &http::Method) -> Self
    where
        E: ApiError,
    {
        let all = surface.rejections_on(method);
        let keys_apply =
            surface.idempotency_keys().is_some() && !crate::client::is_idempotent(method);
        self.surface_with(surface, &all, keys_apply)
    }

    /// [`surface`](Self::surface) with `rejections` as its answers, its
    /// keys' among them if `keys_apply`.
    #[cfg(any(feature = "axum", feature = "actix"))]
    fn surface_with(
        self,
        surface: &crate::server::Surface<E>,
        rejections: &[crate::RejectionKind],
        keys_apply: bool,
    ) -> Self
    where
        E: ApiError,
    {
        let mut responses = self.rejections(rejections);
        let families = surface.rate_limit_families();
        if let Some(families) = families {
            responses.every.legacy |= families.legacy;
            responses.every.ietf |= families.ietf;
            responses.refusals = families;
        }
        responses.problem &= surface.negotiates();
        let keys_apply = keys_apply || responses.served.is_some_and(|s| s.max_key.is_some());
        responses.served = Some(Served {
            negotiates: surface.negotiates(),
            families,
            max_key: keys_apply.then_some(crate::server::idempotency::MAX_KEY),
        });
        if let Some(limit) = surface.get_body_limit() {
            responses.sample_as(Rejection::PayloadTooLarge {
                file_size: Some(limit.saturating_mul(2)),
                max_size: limit,
            });
        }
        if keys_apply {
            responses.sample_as(crate::server::idempotency::invalid_key());
        }
        responses
    }

    /// `sample` in place of the generic sample of its kind.
    #[cfg(any(feature = "axum", feature = "actix"))]
    fn sample_as(&mut self, sample: Rejection) {
        let kind = sample.kind();
        self.samples.retain(|have| have.kind() != kind);
        self.samples.push(sample);
    }
}

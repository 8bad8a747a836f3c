//! What the derive's and `#[retry]`'s attributes require of the types they
//! are given.
//!
//! Each trait here stands for one attribute's requirement, and is what a
//! compile error names when a type falls short: a `details` field of a type
//! `Opaque` that is not `Serialize` is reported at the field's type as "the
//! field type `Opaque` cannot be shown in `details`", with the note that
//! `Opaque` does not implement [`DetailField`]. You never call these
//! traits, and rarely implement them:
//! rebuff implements each for every type that qualifies (most through a
//! blanket impl over the standard trait they stand for), and their methods
//! are hidden because only generated code calls them.
//!
//! | attribute | trait | implemented for |
//! |---|---|---|
//! | a `details` field (every shown field) | [`DetailField`] | `T: serde::Serialize` |
//! | `#[api(retry_after)]` | [`RetryAfterField`] | integers (whole seconds), `Duration`, `Option`, `&T`, `Box<T>` of them |
//! | `#[api(errors)]` | [`ErrorsField`] | `Vec`, slices, arrays, `VecDeque` and `BTreeSet` of messages (`String`, `&str`, any `T: AsRef<str>`), `Option`, `&T`, `Box<T>`, `Arc<T>` of them |
//! | `#[api(rate_limit)]` | [`RateLimitField`] | [`RateLimit`], `Option`, `&T` of it |
//! | a 4xx variant without `message` | [`DisplayMessage`] | `T: Display` |
//! | `#[api(decode)]`, a field read back | [`DecodeField`] | `T: serde::de::DeserializeOwned` |
//! | `#[api(decode)]`, a `retry_after` field | [`DecodeRetryAfter`] | integers, `Duration`, `Option` of them |
//! | `#[api(decode)]`, a `rate_limit` field | [`DecodeRateLimit`] | [`RateLimit`], `Option<RateLimit>` |
//! | `#[api(decode)]`, a field not in the response | [`DecodeDefault`] | `T: Default` |
//! | `#[api(rejection = ...)]`, a named field | [`RejectionField`] | `T: serde::de::DeserializeOwned + Default` |
//! | `#[api(rejection = ...)]`, a `rate_limit` field | [`RejectionRateLimit`] | `RateLimit`, `Option<RateLimit>` |
//! | `#[api(rejection = ...)]`, any other field | [`RejectionDefault`] | `T: Default` |
//! | `#[api(example = ...)]` | [`IntoSample`] | a value of the field's type; a `&str` for a `String`, a value for its `Option` |
//! | `#[retry]`, an argument taken by value | [`RetryArg`] | `T: Clone` |
//! | `#[retry(policy = ...)]` | [`PolicyRef`] | `&Policy`, `&&Policy` |

use core::fmt;
use core::time::Duration;

use serde::ser::{Serialize, SerializeMap};

use crate::client::RemoteError;
use crate::{ApiError, Policy, RateLimit, Rejection};

mod errors;

pub use crate::example::IntoSample;
pub use errors::ErrorsField;

/// A field marked `#[api(retry_after)]`: the retry delay, for
/// [`ApiError::retry_after`] and the `Retry-After` header. In `details` it
/// is the same delay, in whole seconds (rounded up, as the header is), or
/// `null` for none.
///
/// Implemented for whole seconds (every integer type; a negative delay
/// means "now"), [`Duration`], and `Option`, `&T` and `Box<T>` of those.
#[diagnostic::on_unimplemented(
    message = "`#[api(retry_after)]` field has type `{Self}`, which is not a delay",
    label = "expected whole seconds (an unsigned or signed integer) or a `std::time::Duration`",
    note = "wrap other types in `Option<...>` of one of these, or compute the delay into a field of its own"
)]
pub trait RetryAfterField {
    /// Whether the field can hold no delay (an `Option`).
    #[doc(hidden)]
    const __REBUFF_OPTIONAL: bool = false;
    #[doc(hidden)]
    fn __rebuff_retry_after(&self) -> Option<Duration>;
}

/// A retry delay as `details` show it: whole seconds, rounded up.
#[doc(hidden)]
pub struct RetryAfterSecs(pub Option<Duration>);

impl Serialize for RetryAfterSecs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(delay) => serializer.serialize_u64(crate::envelope::ceil_secs(delay)),
            None => serializer.serialize_none(),
        }
    }
}

macro_rules! unsigned_secs {
    ($($t:ty),*) => {$(
        impl RetryAfterField for $t {
            fn __rebuff_retry_after(&self) -> Option<Duration> {
                Some(Duration::from_secs(u64::try_from(*self).unwrap_or(u64::MAX)))
            }
        }
    )*};
}

macro_rules! signed_secs {
    ($($t:ty),*) => {$(
        impl RetryAfterField for $t {
            /// A negative delay means "now": zero.
            fn __rebuff_retry_after(&self) -> Option<Duration> {
                Some(Duration::from_secs(u64::try_from(*self).unwrap_or(if *self < 0 { 0 } else { u64::MAX })))
            }
        }
    )*};
}

unsigned_secs!(u8, u16, u32, u64, u128, usize);
signed_secs!(i8, i16, i32, i64, i128, isize);

impl RetryAfterField for Duration {
    fn __rebuff_retry_after(&self) -> Option<Duration> {
        Some(*self)
    }
}

impl<T: RetryAfterField> RetryAfterField for Option<T> {
    const __REBUFF_OPTIONAL: bool = true;
    fn __rebuff_retry_after(&self) -> Option<Duration> {
        self.as_ref().and_then(T::__rebuff_retry_after)
    }
}

impl<T: RetryAfterField + ?Sized> RetryAfterField for &T {
    const __REBUFF_OPTIONAL: bool = T::__REBUFF_OPTIONAL;
    fn __rebuff_retry_after(&self) -> Option<Duration> {
        (**self).__rebuff_retry_after()
    }
}

impl<T: RetryAfterField + ?Sized> RetryAfterField for Box<T> {
    const __REBUFF_OPTIONAL: bool = T::__REBUFF_OPTIONAL;
    fn __rebuff_retry_after(&self) -> Option<Duration> {
        (**self).__rebuff_retry_after()
    }
}

/// A field marked `#[api(rate_limit)]`: the state reported in the
/// `X-RateLimit-*` headers.
///
/// Implemented for [`RateLimit`], and `Option` and `&T` of it.
#[diagnostic::on_unimplemented(
    message = "`#[api(rate_limit)]` field has type `{Self}`, not `rebuff::RateLimit`",
    label = "expected `rebuff::RateLimit` or `Option<rebuff::RateLimit>`"
)]
pub trait RateLimitField {
    #[doc(hidden)]
    fn __rebuff_rate_limit(&self) -> Option<RateLimit>;
}

impl RateLimitField for RateLimit {
    fn __rebuff_rate_limit(&self) -> Option<RateLimit> {
        Some(*self)
    }
}

impl<T: RateLimitField> RateLimitField for Option<T> {
    fn __rebuff_rate_limit(&self) -> Option<RateLimit> {
        self.as_ref().and_then(T::__rebuff_rate_limit)
    }
}

impl<T: RateLimitField + ?Sized> RateLimitField for &T {
    fn __rebuff_rate_limit(&self) -> Option<RateLimit> {
        (**self).__rebuff_rate_limit()
    }
}

/// The type of an error whose 4xx variants have no `message = "..."`: their
/// message is the type's [`Display`](fmt::Display).
///
/// Implemented for every `T: Display`, such as a type with thiserror's
/// `#[error("...")]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `Display` to use as the message of a 4xx variant without `message = \"...\"`",
    label = "this variant has no `message`",
    note = "add `message = \"...\"` to the variant's `#[api(...)]`, or give the type a `Display` (e.g. thiserror's `#[error(\"...\")]`)"
)]
pub trait DisplayMessage {
    #[doc(hidden)]
    fn __rebuff_fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

impl<T: fmt::Display + ?Sized> DisplayMessage for T {
    fn __rebuff_fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A field shown in `details` (every named field that is not skipped,
/// `flatten`ed ones included), written with serde.
///
/// Implemented for every `T: serde::Serialize`.
#[diagnostic::on_unimplemented(
    message = "the field type `{Self}` cannot be shown in `details`: it does not implement `serde::Serialize`",
    label = "this field goes to `details`",
    note = "derive or implement `serde::Serialize` for it, or mark the field `#[api(skip)]` to keep it out of the response"
)]
pub trait DetailField {
    #[doc(hidden)]
    fn __rebuff_entry<M: SerializeMap>(
        &self,
        map: &mut M,
        key: &'static str,
    ) -> Result<(), M::Error>;
    #[doc(hidden)]
    fn __rebuff_flatten<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error>;
}

impl<T: Serialize + ?Sized> DetailField for T {
    #[inline]
    fn __rebuff_entry<M: SerializeMap>(
        &self,
        map: &mut M,
        key: &'static str,
    ) -> Result<(), M::Error> {
        map.serialize_entry(key, self)
    }

    #[inline]
    fn __rebuff_flatten<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        crate::ser::flatten(map, self)
    }
}

/// A field `#[api(decode)]` reads back from a response: from its entry in
/// `details`, the whole `details` (a `flatten`ed field), or the list of
/// messages (an `errors` field).
///
/// Implemented for every `T: serde::de::DeserializeOwned`.
#[diagnostic::on_unimplemented(
    message = "`#[api(decode)]` cannot read a `{Self}` from the response's details",
    label = "decoded from the details",
    note = "decoded fields must own their data (`String`, not `&str`) and implement `serde::Deserialize`"
)]
pub trait DecodeField: Sized {
    #[doc(hidden)]
    fn __rebuff_from_detail(remote: &RemoteError, key: &str) -> Option<Self>;
    /// The details minus the keys other fields of the variant claim.
    #[doc(hidden)]
    fn __rebuff_from_details(remote: &RemoteError, claimed: &[&str]) -> Option<Self>;
    #[doc(hidden)]
    fn __rebuff_from_errors(remote: &RemoteError) -> Option<Self>;
}

impl<T: serde::de::DeserializeOwned> DecodeField for T {
    fn __rebuff_from_detail(remote: &RemoteError, key: &str) -> Option<Self> {
        let value = remote
            .details()
            .and_then(|d| d.get(key))
            .unwrap_or(&serde_json::Value::Null);
        T::deserialize(value).ok()
    }

    fn __rebuff_from_details(remote: &RemoteError, claimed: &[&str]) -> Option<Self> {
        let mut rest = match remote.details() {
            Some(serde_json::Value::Object(map)) => map.clone(),
            _ => serde_json::Map::new(),
        };
        rest.retain(|key, _| !claimed.contains(&key.as_str()));
        T::deserialize(serde_json::Value::Object(rest)).ok()
    }

    fn __rebuff_from_errors(remote: &RemoteError) -> Option<Self> {
        let list = serde_json::Value::from(remote.errors().to_vec());
        T::deserialize(&list).ok()
    }
}

/// A `retry_after` field `#[api(decode)]` reads back from `Retry-After`.
///
/// Implemented for every integer type (whole seconds), [`Duration`], and
/// `Option` of those.
#[diagnostic::on_unimplemented(
    message = "`#[api(decode)]` cannot read a `{Self}` from `Retry-After`",
    label = "decoded from the retry delay",
    note = "use whole seconds (an integer), a `Duration`, or an `Option` of one"
)]
pub trait DecodeRetryAfter: Sized {
    #[doc(hidden)]
    fn __rebuff_from_retry_after(remote: &RemoteError) -> Option<Self>;
}

fn whole_secs(remote: &RemoteError) -> Option<u64> {
    remote.retry_after().map(crate::envelope::ceil_secs)
}

macro_rules! decode_secs {
    ($($t:ty),*) => {$(
        impl DecodeRetryAfter for $t {
            fn __rebuff_from_retry_after(remote: &RemoteError) -> Option<Self> {
                whole_secs(remote).and_then(|secs| <$t>::try_from(secs).ok())
            }
        }
    )*};
}

decode_secs!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);

impl DecodeRetryAfter for Duration {
    fn __rebuff_from_retry_after(remote: &RemoteError) -> Option<Self> {
        remote.retry_after()
    }
}

impl<T: DecodeRetryAfter> DecodeRetryAfter for Option<T> {
    fn __rebuff_from_retry_after(remote: &RemoteError) -> Option<Self> {
        Some(T::__rebuff_from_retry_after(remote))
    }
}

/// A `rate_limit` field `#[api(decode)]` reads back from the
/// `X-RateLimit-*` headers.
///
/// Implemented for [`RateLimit`] and `Option<RateLimit>`.
#[diagnostic::on_unimplemented(
    message = "`#[api(decode)]` cannot read a `{Self}` from the rate-limit headers",
    label = "decoded from `X-RateLimit-*`",
    note = "use `rebuff::RateLimit` or `Option<rebuff::RateLimit>`"
)]
pub trait DecodeRateLimit: Sized {
    #[doc(hidden)]
    fn __rebuff_from_rate_limit(remote: &RemoteError) -> Option<Self>;
}

impl DecodeRateLimit for RateLimit {
    fn __rebuff_from_rate_limit(remote: &RemoteError) -> Option<Self> {
        remote.rate_limit()
    }
}

impl DecodeRateLimit for Option<RateLimit> {
    fn __rebuff_from_rate_limit(remote: &RemoteError) -> Option<Self> {
        Some(remote.rate_limit())
    }
}

/// A field of a decoded variant that the response does not carry (skipped,
/// or hidden on a 5xx): `#[api(decode)]` fills it with its default.
///
/// Implemented for every `T: Default`. A variant with a cause (`#[source]`,
/// `#[from]`) is not decoded at all, so its fields need nothing.
#[diagnostic::on_unimplemented(
    message = "`#[api(decode)]` has no value for a field of type `{Self}`: it is not in the response",
    label = "skipped or hidden on a 5xx, so decoding needs `{Self}: Default`",
    note = "implement `Default` for it, show it in the details, or drop `decode`"
)]
pub trait DecodeDefault {
    #[doc(hidden)]
    fn __rebuff_default() -> Self;
}

impl<T: Default> DecodeDefault for T {
    fn __rebuff_default() -> Self {
        T::default()
    }
}

/// A named field of a variant that answers one of the server's rejections
/// (`#[api(rejection = ...)]`): filled from the rejection's detail of the
/// same name ([`Rejection::detail`], e.g. `path` for
/// [`Rejection::NotFound`]), or with its default when the rejection has
/// no such detail (or one of another type). A `retry_after` field takes
/// the rejection's delay ([`ApiError::retry_after`]).
///
/// Implemented for every `T: serde::de::DeserializeOwned + Default`.
#[diagnostic::on_unimplemented(
    message = "a variant answering a rejection fills its fields from the rejection's details or their `Default`, which `{Self}` lacks",
    label = "filled from the rejection",
    note = "the field needs `serde::Deserialize` and `Default`; or move it out of the variant marked `#[api(rejection = ...)]`"
)]
pub trait RejectionField: Sized {
    #[doc(hidden)]
    fn __rebuff_from_detail(rejection: &Rejection, key: &str) -> Self;
    #[doc(hidden)]
    fn __rebuff_from_retry_after(rejection: &Rejection) -> Self;
}

impl<T: serde::de::DeserializeOwned + Default> RejectionField for T {
    fn __rebuff_from_detail(rejection: &Rejection, key: &str) -> Self {
        rejection
            .detail(key)
            .and_then(|value| T::deserialize(value).ok())
            .unwrap_or_default()
    }

    fn __rebuff_from_retry_after(rejection: &Rejection) -> Self {
        let Some(delay) = ApiError::retry_after(rejection) else {
            return T::default();
        };
        // Whole seconds, as an integer field holds them; else a `Duration`,
        // in serde's own form.
        let secs = serde_json::Value::from(crate::envelope::ceil_secs(delay));
        let exact = serde_json::json!([delay.as_secs(), delay.subsec_nanos()]);
        T::deserialize(secs)
            .or_else(|_| T::deserialize(exact))
            .unwrap_or_default()
    }
}

/// A `#[api(rate_limit)]` field of a variant answering a rejection: the
/// rate-limit state the rejection carries (a rate-limit refusal), else the
/// default.
///
/// Implemented for [`RateLimit`] and `Option<RateLimit>`.
#[diagnostic::on_unimplemented(
    message = "a variant answering a rejection fills its `#[api(rate_limit)]` field with the rejection's rate limit, which `{Self}` cannot hold",
    label = "filled from the rejection's rate limit",
    note = "use `rebuff::RateLimit` or `Option<rebuff::RateLimit>`"
)]
pub trait RejectionRateLimit: Sized {
    #[doc(hidden)]
    fn __rebuff_from_rejection(rejection: &Rejection) -> Self;
}

impl RejectionRateLimit for RateLimit {
    fn __rebuff_from_rejection(rejection: &Rejection) -> Self {
        ApiError::rate_limit(rejection).unwrap_or_default()
    }
}

impl RejectionRateLimit for Option<RateLimit> {
    fn __rebuff_from_rejection(rejection: &Rejection) -> Self {
        ApiError::rate_limit(rejection)
    }
}

/// A field of a variant answering a rejection that the rejection has no
/// value for (an unnamed field, the error's cause): filled with its
/// default.
///
/// Implemented for every `T: Default`.
#[diagnostic::on_unimplemented(
    message = "a variant answering a rejection fills its fields from the rejection's details or their `Default`, which `{Self}` lacks",
    label = "filled with its default",
    note = "the rejection has no value for this field: implement `Default` for it, or move it out of the variant marked `#[api(rejection = ...)]`"
)]
pub trait RejectionDefault {
    #[doc(hidden)]
    fn __rebuff_default() -> Self;
}

impl<T: Default> RejectionDefault for T {
    fn __rebuff_default() -> Self {
        T::default()
    }
}

/// An argument a `#[retry]` function takes by value: cloned for each
/// attempt, so that every attempt has its own.
///
/// Implemented for every `T: Clone`.
#[diagnostic::on_unimplemented(
    message = "`#[retry]` clones this argument for each attempt, but `{Self}` is not `Clone`",
    label = "taken by value, so every attempt needs its own copy",
    note = "take it by reference (`&{Self}`), or make it `Clone`"
)]
pub trait RetryArg: Sized {
    #[doc(hidden)]
    #[must_use]
    fn __rebuff_clone(&self) -> Self;
}

impl<T: Clone> RetryArg for T {
    #[inline]
    fn __rebuff_clone(&self) -> Self {
        self.clone()
    }
}

/// The value of `#[retry(policy = ...)]`: a [`Policy`] (a `const`) or a
/// `&Policy` (a reference to a `static`); both end up as the longest-lived
/// reference available.
///
/// Implemented for `&Policy` and `&&Policy` (the macro borrows the value).
#[diagnostic::on_unimplemented(
    message = "`policy = ...` needs a `rebuff::Policy` or a `&rebuff::Policy`, not `{Self}`",
    label = "not a retry policy"
)]
pub trait PolicyRef<'a> {
    #[doc(hidden)]
    fn __rebuff_policy(self) -> &'a Policy;
}

impl<'a> PolicyRef<'a> for &'a Policy {
    #[inline]
    fn __rebuff_policy(self) -> &'a Policy {
        self
    }
}

impl<'a> PolicyRef<'a> for &&'a Policy {
    #[inline]
    fn __rebuff_policy(self) -> &'a Policy {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_delays_saturate_and_negative_means_now() {
        assert_eq!((-5i64).__rebuff_retry_after(), Some(Duration::ZERO));
        assert_eq!(
            u128::MAX.__rebuff_retry_after(),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            Some(32u32).__rebuff_retry_after(),
            Some(Duration::from_secs(32))
        );
        assert_eq!(None::<u32>.__rebuff_retry_after(), None);
    }

    #[test]
    fn rejection_fields_from_details_else_default() {
        fn detail<T: RejectionField>(rejection: &Rejection, key: &str) -> T {
            T::__rebuff_from_detail(rejection, key)
        }
        fn delay<T: RejectionField>(rejection: &Rejection) -> T {
            T::__rebuff_from_retry_after(rejection)
        }
        let not_found = Rejection::NotFound { path: "/x".into() };
        assert_eq!(detail::<String>(&not_found, "path"), "/x");
        assert_eq!(detail::<String>(&not_found, "reason"), "");
        // A detail of another type is no value for the field.
        assert_eq!(detail::<u64>(&not_found, "path"), 0);
        assert_eq!(
            detail::<Option<String>>(&not_found, "path"),
            Some("/x".into())
        );

        let in_progress = Rejection::RequestInProgress { retry_after: 3 };
        assert_eq!(delay::<u64>(&in_progress), 3);
        assert_eq!(delay::<Option<u32>>(&in_progress), Some(3));
        assert_eq!(delay::<Duration>(&in_progress), Duration::from_secs(3));
        assert_eq!(delay::<Option<u64>>(&not_found), None);
    }
}

//! The value of `#[api(example = ...)]`: checked against the field's type
//! with or without the `openapi` feature, so that turning the feature on
//! (anywhere in a build) cannot break a type whose examples are wrong.

/// The value of `#[api(example = ...)]`, turned into the field's type: the
/// value itself, or a string literal for a `String` (or `Option<String>`)
/// field, or a value for an `Option` field.
#[diagnostic::on_unimplemented(
    message = "`example = ...` of type `{Self}` cannot fill a field of type `{T}`",
    label = "not a `{T}`",
    note = "write a value of the field's type; a string literal also fills a `String` field, and a value its `Option`"
)]
pub trait IntoSample<T> {
    #[doc(hidden)]
    fn __rebuff_into_sample(self) -> T;
}

impl<T> IntoSample<T> for T {
    #[inline]
    fn __rebuff_into_sample(self) -> T {
        self
    }
}

impl IntoSample<String> for &str {
    fn __rebuff_into_sample(self) -> String {
        self.to_owned()
    }
}

impl IntoSample<Option<String>> for &str {
    fn __rebuff_into_sample(self) -> Option<String> {
        Some(self.to_owned())
    }
}

impl<T> IntoSample<Option<T>> for T {
    fn __rebuff_into_sample(self) -> Option<T> {
        Some(self)
    }
}

//! How generated code picks a field's schema and sample value: by method
//! resolution at the expansion site (autoref specialisation), so a type is
//! described by rebuff's own impls first, then by utoipa's, and a type
//! with neither is one clear compile error at the field.
//!
//! `(&&&&Probe::<T>::new()).__rebuff_schema()` resolves, in order, to
//! [`DetailSchema`], `utoipa::ToSchema`, `utoipa::PartialSchema`, and a
//! method whose `T: NoSchema` bound fails with a message naming the field's
//! type. `(&&&Probe::<T>::new()).__rebuff_sample(name)` resolves to
//! [`Sample`], `Default`, and a method whose `T: NoSample` bound fails.

use core::marker::PhantomData;

use super::sample::Sample;
use super::schema::{DetailSchema, FieldSchema};

/// A type, for method resolution to pick how to describe it.
pub struct Probe<T: ?Sized>(PhantomData<fn() -> Box<T>>);

impl<T: ?Sized> Probe<T> {
    /// The probe of `T`.
    #[must_use]
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

impl<T: ?Sized> Default for Probe<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// First choice: rebuff's [`DetailSchema`].
pub trait ViaDetailSchema {
    #[doc(hidden)]
    fn __rebuff_schema(&self) -> FieldSchema;
}

impl<T: DetailSchema + ?Sized> ViaDetailSchema for &&&Probe<T> {
    #[doc(hidden)]
    fn __rebuff_schema(&self) -> FieldSchema {
        T::detail_schema()
    }
}

/// Second: utoipa's `ToSchema`, with the schemas it refers to.
pub trait ViaToSchema {
    #[doc(hidden)]
    fn __rebuff_schema(&self) -> FieldSchema;
}

impl<T: utoipa::ToSchema + ?Sized> ViaToSchema for &&Probe<T> {
    #[doc(hidden)]
    fn __rebuff_schema(&self) -> FieldSchema {
        let mut components = vec![(T::name().into_owned(), T::schema())];
        T::schemas(&mut components);
        FieldSchema::with_components(T::schema(), components)
    }
}

/// Third: utoipa's `PartialSchema` alone.
pub trait ViaPartialSchema {
    #[doc(hidden)]
    fn __rebuff_schema(&self) -> FieldSchema;
}

impl<T: utoipa::PartialSchema + ?Sized> ViaPartialSchema for &Probe<T> {
    #[doc(hidden)]
    fn __rebuff_schema(&self) -> FieldSchema {
        FieldSchema::new(T::schema())
    }
}

/// Never implemented: the error a field without a schema gets.
#[diagnostic::on_unimplemented(
    message = "the API document cannot describe the `details` field of type `{Self}`",
    label = "shown in `details`, so the document needs its schema",
    note = "derive `utoipa::ToSchema` for it, or implement `rebuff::openapi::DetailSchema`; or mark the field `#[api(skip)]`"
)]
pub trait NoSchema {
    #[doc(hidden)]
    fn __rebuff_never() -> FieldSchema;
}

/// Last: always found; its bound fails at compile time.
pub trait ViaNone<T: ?Sized> {
    #[doc(hidden)]
    fn __rebuff_schema(&self) -> FieldSchema
    where
        T: NoSchema;
}

impl<T: ?Sized> ViaNone<T> for Probe<T> {
    #[doc(hidden)]
    fn __rebuff_schema(&self) -> FieldSchema
    where
        T: NoSchema,
    {
        T::__rebuff_never()
    }
}

/// First choice for a sample: [`Sample`].
pub trait ViaSample<T> {
    #[doc(hidden)]
    fn __rebuff_sample(&self, name: &'static str) -> T;
}

impl<T: Sample> ViaSample<T> for &&Probe<T> {
    #[doc(hidden)]
    fn __rebuff_sample(&self, name: &'static str) -> T {
        T::sample(name)
    }
}

/// Second: `Default`.
pub trait ViaDefault<T> {
    #[doc(hidden)]
    fn __rebuff_sample(&self, name: &'static str) -> T;
}

impl<T: Default> ViaDefault<T> for &Probe<T> {
    #[doc(hidden)]
    fn __rebuff_sample(&self, _: &'static str) -> T {
        T::default()
    }
}

/// Never implemented: the error a field without a sample gets.
#[diagnostic::on_unimplemented(
    message = "the API document has no example value for a field of type `{Self}`",
    label = "the examples are rendered from a value of each variant",
    note = "add `#[api(example = ...)]` to the field, or implement `rebuff::openapi::Sample` (or `Default`) for its type"
)]
pub trait NoSample {
    #[doc(hidden)]
    fn __rebuff_never() -> Self;
}

/// Last: always found; its bound fails at compile time.
pub trait ViaNoSample<T> {
    #[doc(hidden)]
    fn __rebuff_sample(&self, name: &'static str) -> T
    where
        T: NoSample;
}

impl<T> ViaNoSample<T> for Probe<T> {
    #[doc(hidden)]
    fn __rebuff_sample(&self, _: &'static str) -> T
    where
        T: NoSample,
    {
        T::__rebuff_never()
    }
}

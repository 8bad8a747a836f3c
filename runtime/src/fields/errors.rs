//! `#[api(errors)]`: a list of messages, sent as strings.

use serde::Serialize;
use serde::ser::SerializeMap;

/// A field marked `#[api(errors)]`: a list of messages, each sent as a
/// string (the plain envelope's `{"errors": [...]}`, the others' `errors`
/// in `details`), which clients read back as
/// [`RemoteError::errors`](crate::client::RemoteError::errors).
///
/// Implemented for `Vec<T>`, `[T]`, `[T; N]`, `VecDeque<T>` and
/// `BTreeSet<T>` of messages (any `T: AsRef<str>`: `String`, `&str`,
/// `Cow<str>`, ...), and `Option` (none: an empty list), `&T`, `Box<T>` and
/// `Arc<T>` of those.
#[diagnostic::on_unimplemented(
    message = "`#[api(errors)]` field has type `{Self}`, which is not a list of messages",
    label = "expected a `Vec`, slice or array of `String` or `&str`",
    note = "the list is sent as strings, which clients read back as `RemoteError::errors`; turn other items into messages (`format!`, `to_string()`), or show them as a detail of their own"
)]
pub trait ErrorsField {
    #[doc(hidden)]
    fn __rebuff_serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;

    /// The list as the entry `key` of `details`.
    #[doc(hidden)]
    fn __rebuff_entry<M: SerializeMap>(
        &self,
        map: &mut M,
        key: &'static str,
    ) -> Result<(), M::Error> {
        map.serialize_entry(key, &Messages(self))
    }
}

impl<T: AsRef<str>> ErrorsField for [T] {
    fn __rebuff_serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(AsRef::as_ref))
    }
}

impl<T: AsRef<str>> ErrorsField for Vec<T> {
    fn __rebuff_serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_slice().__rebuff_serialize(serializer)
    }
}

impl<T: AsRef<str>, const N: usize> ErrorsField for [T; N] {
    fn __rebuff_serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_slice().__rebuff_serialize(serializer)
    }
}

impl<L: ErrorsField + ?Sized> ErrorsField for &L {
    fn __rebuff_serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).__rebuff_serialize(serializer)
    }
}

impl<T: AsRef<str>> ErrorsField for std::collections::VecDeque<T> {
    fn __rebuff_serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(AsRef::as_ref))
    }
}

impl<T: AsRef<str>> ErrorsField for std::collections::BTreeSet<T> {
    fn __rebuff_serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter().map(AsRef::as_ref))
    }
}

impl<L: ErrorsField + ?Sized> ErrorsField for std::sync::Arc<L> {
    fn __rebuff_serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).__rebuff_serialize(serializer)
    }
}

impl<L: ErrorsField + ?Sized> ErrorsField for Box<L> {
    fn __rebuff_serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).__rebuff_serialize(serializer)
    }
}

impl<L: ErrorsField> ErrorsField for Option<L> {
    fn __rebuff_serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Some(list) => list.__rebuff_serialize(serializer),
            None => serializer.collect_seq(core::iter::empty::<&str>()),
        }
    }
}

/// A list of messages, as it is sent: strings.
struct Messages<'a, L: ErrorsField + ?Sized>(&'a L);

impl<L: ErrorsField + ?Sized> Serialize for Messages<'_, L> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.__rebuff_serialize(serializer)
    }
}

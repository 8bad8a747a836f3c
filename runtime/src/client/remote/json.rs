//! The JSON slot reader: one pass over a body, each member a shape reads
//! put straight into its slot (borrowed from the body, interpreted once
//! the shape is known), every other member skipped unparsed.
//!
//! Which members have slots, and what they mean, is for the types that
//! implement [`Slots`] to say (the shapes); this module only reads them,
//! and reads raw values as strings, durations and `serde_json` values.

use core::fmt;
use core::time::Duration;
use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The key under which `serde_json` hands a number over as a one-entry map
/// when its `arbitrary_precision` feature is on (anything in a build may
/// turn it on).
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Skips the rest of a map.
pub(super) fn drain<'de, M: serde::de::MapAccess<'de>>(map: &mut M) -> Result<(), M::Error> {
    while map
        .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
        .is_some()
    {}
    Ok(())
}

/// An object whose members are read into slots as they come: the shapes'
/// tables of members.
pub(super) trait Slots<'a>: Default {
    /// What the members this object reads in place ([`Slot::Object`]) are
    /// read into; `Self` for an object that reads none so.
    type Nested: Slots<'a>;

    /// The slot of a member, or `None` for a member no shape reads.
    fn slot(&mut self, key: &str) -> Option<Slot<'_, 'a, Self::Nested>>;
}

/// Where a member read goes: most are kept raw (borrowed from the body,
/// interpreted once the shape is known); retry-after values are read as
/// durations where they are found.
pub(super) enum Slot<'s, 'a, N> {
    Raw(&'s mut Option<&'a RawValue>),
    /// Kept raw unless a member of a lower rank filled it: one of several
    /// names for the same thing, the best name winning.
    Ranked(&'s mut Option<(u8, &'a RawValue)>, u8),
    RetryAfter(&'s mut Option<RetryAfterSecs>),
    /// Parsed in the same pass (a `null` is no value).
    Value(&'s mut Option<serde_json::Value>),
    /// An object read into `N`'s slots where it stays, or a string or
    /// number kept as text ([`Member`]).
    Object(&'s mut Option<Member<'a, N>>),
    /// A member the shapes know but do not read: skipped, and not counted
    /// as one no slot takes.
    Skip,
}

impl<'a, N: Slots<'a>> Slot<'_, 'a, N> {
    /// Reads the member's value into the slot unless an earlier member of
    /// the same name filled it (the first wins). With [`Read::Raw`], a
    /// retry-after value is taken as written and then read.
    // Always inlined: made once per kind of object, it would stay out of
    // line, and it runs for every member a shape reads.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn fill<M: serde::de::MapAccess<'a>>(self, map: &mut M, read: Read) -> Result<(), M::Error> {
        match self {
            Slot::Raw(slot) => {
                let value: &'a RawValue = map.next_value()?;
                slot.get_or_insert(value);
            }
            Slot::Ranked(slot, rank) => {
                let value: &'a RawValue = map.next_value()?;
                if slot.is_none_or(|(held, _)| rank < held) {
                    *slot = Some((rank, value));
                }
            }
            Slot::RetryAfter(slot @ None) => {
                *slot = Some(match read {
                    Read::Fast => map.next_value()?,
                    Read::Raw => RetryAfterSecs::from_raw(map.next_value()?),
                });
            }
            Slot::Value(slot) => {
                let value: serde_json::Value = map.next_value()?;
                if !value.is_null() {
                    slot.get_or_insert(value);
                }
            }
            Slot::Object(slot @ None) => map.next_value_seed(MemberSeed(slot, read))?,
            Slot::RetryAfter(Some(_)) | Slot::Object(Some(_)) | Slot::Skip => {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// How retry-after values are read.
#[derive(Clone, Copy)]
enum Read {
    /// As numbers, where they are found.
    Fast,
    /// Kept as written, then read. Slower, but a number too large for a
    /// float (`1e400`), which the fast read rejects along with the whole
    /// body, reads as no hint here.
    Raw,
}

/// A retry-after member: whole or fractional seconds, as a number or a
/// numeric string. Anything else (negative, not a number) reads as no hint.
/// (A number out of a float's range fails the fast read of the whole body,
/// which is then read again with [`Read::Raw`].)
#[derive(Clone, Copy)]
pub(super) struct RetryAfterSecs(Option<Duration>);

impl RetryAfterSecs {
    /// A raw JSON value: a number, or a string (unescaped as the fast
    /// read would).
    fn from_raw(raw: &RawValue) -> Self {
        string_of(raw).map_or(RetryAfterSecs(None), |text| {
            RetryAfterSecs::from_text(&text)
        })
    }

    /// Seconds, optionally written as a protobuf `Duration` in JSON
    /// (`"30s"`, `"1.500s"`, as gRPC's `RetryInfo.retryDelay` is).
    fn from_text(text: &str) -> Self {
        let text = text.strip_suffix('s').unwrap_or(text);
        if let Ok(secs) = text.parse::<u64>() {
            return RetryAfterSecs(Some(Duration::from_secs(secs)));
        }
        RetryAfterSecs(
            text.parse::<f64>()
                .ok()
                .and_then(|secs| Duration::try_from_secs_f64(secs).ok()),
        )
    }
}

impl<'de> Deserialize<'de> for RetryAfterSecs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RetryAfterSecs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds")
            }
            fn visit_u64<E>(self, secs: u64) -> Result<RetryAfterSecs, E> {
                Ok(RetryAfterSecs(Some(Duration::from_secs(secs))))
            }
            fn visit_i64<E>(self, secs: i64) -> Result<RetryAfterSecs, E> {
                Ok(RetryAfterSecs(
                    u64::try_from(secs).ok().map(Duration::from_secs),
                ))
            }
            fn visit_f64<E>(self, secs: f64) -> Result<RetryAfterSecs, E> {
                Ok(RetryAfterSecs(Duration::try_from_secs_f64(secs).ok()))
            }
            fn visit_str<E>(self, text: &str) -> Result<RetryAfterSecs, E> {
                Ok(RetryAfterSecs::from_text(text))
            }
            fn visit_bool<E>(self, _: bool) -> Result<RetryAfterSecs, E> {
                Ok(RetryAfterSecs(None))
            }
            fn visit_unit<E>(self) -> Result<RetryAfterSecs, E> {
                Ok(RetryAfterSecs(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RetryAfterSecs, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(RetryAfterSecs(None))
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<RetryAfterSecs, M::Error> {
                let Some(Key(key)) = map.next_key()? else {
                    return Ok(RetryAfterSecs(None));
                };
                let seconds = if key == NUMBER_TOKEN {
                    let number: String = map.next_value()?;
                    RetryAfterSecs::from_text(&number)
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    RetryAfterSecs(None)
                };
                drain(&mut map)?;
                Ok(seconds)
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// The duration a retry-after slot holds, if it was there and readable.
pub(super) fn seconds(slot: Option<RetryAfterSecs>) -> Option<Duration> {
    slot.and_then(|s| s.0)
}

/// An object's key, borrowed from the body unless it had escapes. (Serde's
/// own `Cow<str>` always copies: every key would be an allocation.)
pub(super) struct Key<'de>(pub(super) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

/// Reads a top-level object into `top`'s slots, and returns how many
/// members no slot takes (RFC 9457 extension members); `None` if `text` is
/// not a JSON object.
// Inline: out of line, the call showed in the instruction counts of a
// small body's parse.
#[inline]
pub(super) fn read_object<'a, T: Slots<'a>>(text: &'a str, top: &mut T) -> Option<usize> {
    match read_top(text, top, Read::Fast) {
        Some(unknown) => Some(unknown),
        // Not JSON, or a retry-after number out of a float's range: read
        // again taking retry-after values as written, so that such a
        // number costs the hint and not the body.
        None => {
            *top = T::default();
            read_top(text, top, Read::Raw)
        }
    }
}

/// Reads a top-level object into `top`; how many members no slot takes.
// Always inlined: the fast read is a quarter of a small body's parse, and
// the compiler keeps a function called more than once out of line.
#[allow(clippy::inline_always)]
#[inline(always)]
fn read_top<'a, T: Slots<'a>>(text: &'a str, top: &mut T, read: Read) -> Option<usize> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let unknown =
        serde::de::DeserializeSeed::deserialize(ObjectSeed(top, read), &mut reader).ok()?;
    reader.end().ok()?;
    Some(unknown)
}

/// Reads an object in one pass, straight into its slots (written in place:
/// a shape's slots are a few hundred bytes), and returns how many members
/// no slot takes.
struct ObjectSeed<'t, T>(&'t mut T, Read);

impl<'de, T: Slots<'de>> serde::de::DeserializeSeed<'de> for ObjectSeed<'_, T> {
    type Value = usize;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Slots<'de>> serde::de::Visitor<'de> for ObjectSeed<'_, T> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: serde::de::MapAccess<'de>>(self, map: M) -> Result<usize, M::Error> {
        read_members(self.0, map, self.1)
    }
}

/// Reads an object's members into `slots` (the first of a repeated key
/// wins); how many no slot takes.
fn read_members<'a, T: Slots<'a>, M: serde::de::MapAccess<'a>>(
    slots: &mut T,
    mut map: M,
    read: Read,
) -> Result<usize, M::Error> {
    let mut unknown = 0;
    while let Some(Key(key)) = map.next_key()? {
        if !member(slots, &key, &mut map, read)? {
            unknown += 1;
        }
    }
    Ok(unknown)
}

/// Reads the value of the member `key` into its slot, or skips it: false
/// when no slot takes it.
#[inline]
fn member<'a, T: Slots<'a>, M: serde::de::MapAccess<'a>>(
    slots: &mut T,
    key: &str,
    map: &mut M,
    read: Read,
) -> Result<bool, M::Error> {
    match slots.slot(key) {
        Some(slot) => slot.fill(map, read).map(|()| true),
        // A member no slot takes is skipped, not borrowed.
        None => map.next_value::<serde::de::IgnoredAny>().map(|_| false),
    }
}

/// A member read in place ([`Slot::Object`]): an object (read into `N`'s
/// slots), a string or number (as text), or anything else.
// It lives in place inside its parent's slots, on the stack: boxing the
// large variant would cost an allocation per parse to save stack space
// nobody needs.
pub(super) enum Member<'a, N> {
    Object(N),
    Text(Cow<'a, str>),
    Other,
}

/// Reads a member into its place in its parent's slots (an object's slots
/// are a few hundred bytes: built where they stay, not moved there).
struct MemberSeed<'t, 'de, N>(&'t mut Option<Member<'de, N>>, Read);

impl<'de, N: Slots<'de>> serde::de::DeserializeSeed<'de> for MemberSeed<'_, 'de, N> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, N: Slots<'de>> serde::de::Visitor<'de> for MemberSeed<'_, 'de, N> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let first: Option<Key<'de>> = map.next_key()?;
        if let Some(Key(key)) = &first {
            if key == NUMBER_TOKEN {
                // A number (`"error": 404`), handed over as a map by
                // serde_json's `arbitrary_precision`.
                let number: String = map.next_value()?;
                drain(&mut map)?;
                *self.0 = Some(Member::Text(Cow::Owned(number)));
                return Ok(());
            }
        }
        match self.0.insert(Member::Object(N::default())) {
            Member::Object(slots) => {
                if let Some(Key(key)) = first {
                    member(slots, &key, &mut map, self.1)?;
                }
                read_members(slots, map, self.1).map(drop)
            }
            // Not reached: the object was just put there.
            Member::Text(_) | Member::Other => Ok(()),
        }
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<(), E> {
        *self.0 = Some(Member::Text(Cow::Borrowed(text)));
        Ok(())
    }

    fn visit_str<E>(self, text: &str) -> Result<(), E> {
        *self.0 = Some(Member::Text(Cow::Owned(text.to_owned())));
        Ok(())
    }

    fn visit_u64<E>(self, n: u64) -> Result<(), E> {
        *self.0 = Some(Member::Text(Cow::Owned(n.to_string())));
        Ok(())
    }

    fn visit_i64<E>(self, n: i64) -> Result<(), E> {
        *self.0 = Some(Member::Text(Cow::Owned(n.to_string())));
        Ok(())
    }

    fn visit_f64<E>(self, n: f64) -> Result<(), E> {
        *self.0 = Some(Member::Text(Cow::Owned(n.to_string())));
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        *self.0 = Some(Member::Other);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        *self.0 = Some(Member::Other);
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        *self.0 = Some(Member::Other);
        Ok(())
    }
}

/// A raw JSON value as a string: strings as themselves, numbers as written,
/// anything else `None`.
#[inline]
pub(super) fn string(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    // Most slots are empty: that check is inlined, the rest is not.
    string_of(raw?)
}

fn string_of(raw: &RawValue) -> Option<Cow<'_, str>> {
    let raw = raw.get();
    match raw.as_bytes().first()? {
        // A string without escapes is its own text: no second parse.
        b'"' if raw.len() >= 2 && !raw.contains('\\') => {
            Some(Cow::Borrowed(&raw[1..raw.len() - 1]))
        }
        b'"' => serde_json::from_str::<Cow<'_, str>>(raw).ok(),
        b'-' | b'0'..=b'9' => Some(Cow::Borrowed(raw)),
        _ => None,
    }
}

pub(super) fn is_false(raw: Option<&RawValue>) -> bool {
    raw.is_some_and(|r| r.get() == "false")
}

/// A raw JSON object read into `T`'s slots, its retry-after values taken
/// as written (the slow paths: robust first); `None` for anything else.
pub(super) fn object<'a, T: Slots<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    let raw = raw?;
    if !raw.get().starts_with('{') {
        return None;
    }
    let mut slots = T::default();
    read_top(raw.get(), &mut slots, Read::Raw)?;
    Some(slots)
}

#[inline]
pub(super) fn value(raw: Option<&RawValue>) -> Option<serde_json::Value> {
    value_of(raw?)
}

fn value_of(raw: &RawValue) -> Option<serde_json::Value> {
    if raw.get() == "null" {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

/// A retry-after value of parsed JSON: seconds, as a number or a string
/// (`"30"`, or `"30s"` as a protobuf `Duration`).
pub(super) fn json_seconds(value: &serde_json::Value) -> Option<Duration> {
    match value {
        serde_json::Value::String(text) => RetryAfterSecs::from_text(text).0,
        other => Duration::try_from_secs_f64(other.as_f64()?).ok(),
    }
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeSeed as _;
    use serde::de::value::{Error as ValueError, MapDeserializer};

    use super::*;

    /// A number as `serde_json` hands it over when `arbitrary_precision` is on
    /// somewhere in the build: a one-entry map.
    fn arbitrary_precision(
        text: &'static str,
    ) -> MapDeserializer<'static, std::vec::IntoIter<(&'static str, &'static str)>, ValueError>
    {
        MapDeserializer::new(vec![(NUMBER_TOKEN, text)].into_iter())
    }

    /// An object of one member, for the reader's own tests.
    #[derive(Default)]
    struct Code<'a> {
        code: Option<&'a RawValue>,
    }

    impl<'a> Slots<'a> for Code<'a> {
        type Nested = Self;

        fn slot(&mut self, key: &str) -> Option<Slot<'_, 'a, Self>> {
            (key == "code").then_some(Slot::Raw(&mut self.code))
        }
    }

    #[test]
    fn members_go_to_their_slots_and_the_rest_are_counted() {
        let mut top = Code::default();
        let unknown = read_object(r#"{"code":"c","other":1,"code":"d","more":[]}"#, &mut top);
        assert_eq!(unknown, Some(2));
        assert_eq!(
            top.code.map(RawValue::get),
            Some(r#""c""#),
            "the first wins"
        );
        assert_eq!(read_object("[1]", &mut top), None);
    }

    #[test]
    fn numbers_handed_over_as_maps_still_read() {
        let seconds = RetryAfterSecs::deserialize(arbitrary_precision("60")).unwrap();
        assert_eq!(seconds.0, Some(Duration::from_secs(60)));
        let seconds = RetryAfterSecs::deserialize(arbitrary_precision("1.5")).unwrap();
        assert_eq!(seconds.0, Some(Duration::from_millis(1500)));
        // Any other object is no hint.
        let other = MapDeserializer::<_, ValueError>::new(vec![("s", "60")].into_iter());
        assert_eq!(RetryAfterSecs::deserialize(other).unwrap().0, None);

        let mut error: Option<Member<'_, Code<'_>>> = None;
        MemberSeed(&mut error, Read::Fast)
            .deserialize(arbitrary_precision("404"))
            .unwrap();
        assert!(
            matches!(&error, Some(Member::Text(text)) if text == "404"),
            "an `error` number is its text, not an empty object"
        );
    }

    #[test]
    fn raw_and_fast_reads_agree() {
        for value in [
            "60",
            "1.5",
            r#""60""#,
            r#""\u0036""#,
            r#""1.5""#,
            "-5",
            "null",
            r#""soon""#,
            "[1]",
            r#"{"a":1}"#,
            "true",
        ] {
            let raw: &RawValue = serde_json::from_str(value).unwrap();
            let fast: RetryAfterSecs = serde_json::from_str(value).unwrap();
            assert_eq!(RetryAfterSecs::from_raw(raw).0, fast.0, "{value}");
        }
    }
}

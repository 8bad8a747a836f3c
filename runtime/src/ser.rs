//! serde plumbing shared by the envelopes and the derive: flattening a value
//! into an open map, and leaving out map entries by key, both without
//! allocating.

use core::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible, SerializeMap, SerializeStruct, Serializer};

/// Writes the entries of a struct or map value into `map`, as
/// `#[api(flatten)]` asks. `None` and `()` write nothing; any other value is
/// an error of the map's own serializer.
pub(crate) fn flatten<M, T>(map: &mut M, value: &T) -> Result<(), M::Error>
where
    M: SerializeMap,
    T: Serialize + ?Sized,
{
    value.serialize(FlatMapSerializer(map))
}

struct FlatMapSerializer<'a, M>(&'a mut M);

fn not_flattenable<E: ser::Error>(what: &str) -> E {
    E::custom(format_args!(
        "`#[api(flatten)]` needs a struct or map, found {what}"
    ))
}

macro_rules! reject {
    ($($method:ident($($ty:ty),*) => $what:literal;)*) => {
        $(
            fn $method(self, $(_: $ty),*) -> Result<Self::Ok, Self::Error> {
                Err(not_flattenable($what))
            }
        )*
    };
}

impl<'a, M: SerializeMap> Serializer for FlatMapSerializer<'a, M> {
    type Ok = ();
    type Error = M::Error;
    type SerializeSeq = Impossible<(), M::Error>;
    type SerializeTuple = Impossible<(), M::Error>;
    type SerializeTupleStruct = Impossible<(), M::Error>;
    type SerializeTupleVariant = Impossible<(), M::Error>;
    type SerializeMap = FlatMap<'a, M>;
    type SerializeStruct = FlatMap<'a, M>;
    type SerializeStructVariant = Impossible<(), M::Error>;

    reject! {
        serialize_bool(bool) => "a boolean";
        serialize_i8(i8) => "an integer";
        serialize_i16(i16) => "an integer";
        serialize_i32(i32) => "an integer";
        serialize_i64(i64) => "an integer";
        serialize_i128(i128) => "an integer";
        serialize_u8(u8) => "an integer";
        serialize_u16(u16) => "an integer";
        serialize_u32(u32) => "an integer";
        serialize_u64(u64) => "an integer";
        serialize_u128(u128) => "an integer";
        serialize_f32(f32) => "a float";
        serialize_f64(f64) => "a float";
        serialize_char(char) => "a character";
        serialize_str(&str) => "a string";
        serialize_bytes(&[u8]) => "bytes";
        serialize_unit_variant(&'static str, u32, &'static str) => "an enum variant";
    }

    fn serialize_none(self) -> Result<(), M::Error> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), M::Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), M::Error> {
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), M::Error> {
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), M::Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), M::Error> {
        self.0.serialize_entry(variant, value)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, M::Error> {
        Err(not_flattenable("a sequence"))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, M::Error> {
        Err(not_flattenable("a tuple"))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, M::Error> {
        Err(not_flattenable("a tuple struct"))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, M::Error> {
        Err(not_flattenable("a tuple variant"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, M::Error> {
        Ok(FlatMap(self.0))
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, M::Error> {
        Ok(FlatMap(self.0))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, M::Error> {
        Err(not_flattenable("a struct variant"))
    }
}

struct FlatMap<'a, M>(&'a mut M);

impl<M: SerializeMap> SerializeMap for FlatMap<'_, M> {
    type Ok = ();
    type Error = M::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), M::Error> {
        self.0.serialize_key(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), M::Error> {
        self.0.serialize_value(value)
    }

    fn serialize_entry<K, V>(&mut self, key: &K, value: &V) -> Result<(), M::Error>
    where
        K: Serialize + ?Sized,
        V: Serialize + ?Sized,
    {
        self.0.serialize_entry(key, value)
    }

    fn end(self) -> Result<(), M::Error> {
        Ok(())
    }
}

impl<M: SerializeMap> SerializeStruct for FlatMap<'_, M> {
    type Ok = ();
    type Error = M::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), M::Error> {
        self.0.serialize_entry(key, value)
    }

    fn end(self) -> Result<(), M::Error> {
        Ok(())
    }
}

/// A map that drops the entries whose string key is in `reserved`: RFC 9457
/// extension members may not shadow the standard ones.
pub(crate) struct Without<'a, M> {
    pub(crate) map: &'a mut M,
    pub(crate) reserved: &'static [&'static str],
    pub(crate) skip_value: bool,
}

impl<M: SerializeMap> SerializeMap for Without<'_, M> {
    type Ok = ();
    type Error = M::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), M::Error> {
        self.skip_value = key_is_one_of(key, self.reserved);
        if self.skip_value {
            Ok(())
        } else {
            self.map.serialize_key(key)
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), M::Error> {
        if core::mem::take(&mut self.skip_value) {
            Ok(())
        } else {
            self.map.serialize_value(value)
        }
    }

    fn serialize_entry<K, V>(&mut self, key: &K, value: &V) -> Result<(), M::Error>
    where
        K: Serialize + ?Sized,
        V: Serialize + ?Sized,
    {
        if key_is_one_of(key, self.reserved) {
            Ok(())
        } else {
            self.map.serialize_entry(key, value)
        }
    }

    fn end(self) -> Result<(), M::Error> {
        Ok(())
    }
}

fn key_is_one_of<K: Serialize + ?Sized>(key: &K, names: &'static [&'static str]) -> bool {
    key.serialize(KeyProbe(names)).unwrap_or(false)
}

/// A serializer that only answers whether a string is one of `names`.
struct KeyProbe(&'static [&'static str]);

#[derive(Debug)]
struct NotAString;

impl fmt::Display for NotAString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a string key")
    }
}

impl std::error::Error for NotAString {}

impl ser::Error for NotAString {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotAString
    }
}

macro_rules! not_a_string {
    ($($method:ident($($ty:ty),*);)*) => {
        $(
            fn $method(self, $(_: $ty),*) -> Result<bool, NotAString> {
                Ok(false)
            }
        )*
    };
}

impl Serializer for KeyProbe {
    type Ok = bool;
    type Error = NotAString;
    type SerializeSeq = Impossible<bool, NotAString>;
    type SerializeTuple = Impossible<bool, NotAString>;
    type SerializeTupleStruct = Impossible<bool, NotAString>;
    type SerializeTupleVariant = Impossible<bool, NotAString>;
    type SerializeMap = Impossible<bool, NotAString>;
    type SerializeStruct = Impossible<bool, NotAString>;
    type SerializeStructVariant = Impossible<bool, NotAString>;

    not_a_string! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
    }

    fn serialize_str(self, v: &str) -> Result<bool, NotAString> {
        Ok(self.0.contains(&v))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<bool, NotAString> {
        value.serialize(self)
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<bool, NotAString> {
        Ok(self.0.contains(&variant))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<bool, NotAString> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<bool, NotAString> {
        Err(NotAString)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotAString> {
        Err(NotAString)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotAString> {
        Err(NotAString)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotAString> {
        Err(NotAString)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotAString> {
        Err(NotAString)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotAString> {
        Err(NotAString)
    }

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, NotAString> {
        Err(NotAString)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotAString> {
        Err(NotAString)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Inner {
        file_size_mb: u32,
        max_size_mb: u32,
    }

    struct Outer<T>(T);

    impl<T: Serialize> Serialize for Outer<T> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(None)?;
            map.serialize_entry("a", &1)?;
            flatten(&mut map, &self.0)?;
            map.end()
        }
    }

    #[test]
    fn flattens_structs_maps_and_options() {
        let out = serde_json::to_string(&Outer(Inner {
            file_size_mb: 150,
            max_size_mb: 100,
        }))
        .unwrap();
        assert_eq!(out, r#"{"a":1,"file_size_mb":150,"max_size_mb":100}"#);

        let map: BTreeMap<&str, u8> = [("x", 1), ("y", 2)].into();
        let out = serde_json::to_string(&Outer(Some(map))).unwrap();
        assert_eq!(out, r#"{"a":1,"x":1,"y":2}"#);

        let out = serde_json::to_string(&Outer(None::<Inner>)).unwrap();
        assert_eq!(out, r#"{"a":1}"#);
    }

    #[test]
    fn flattening_a_scalar_is_an_error_not_a_panic() {
        let err = serde_json::to_string(&Outer(5)).unwrap_err();
        assert!(err.to_string().contains("needs a struct or map"), "{err}");
    }

    #[test]
    fn without_drops_reserved_keys() {
        struct Filtered;
        impl Serialize for Filtered {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(None)?;
                let mut ext = Without {
                    map: &mut map,
                    reserved: &["status", "type"],
                    skip_value: false,
                };
                ext.serialize_entry("status", &"shadow")?;
                ext.serialize_entry("kept", &1)?;
                ext.serialize_key("type")?;
                ext.serialize_value(&"shadow")?;
                ext.serialize_key(&7)?;
                ext.serialize_value(&"non-string key passes")?;
                map.end()
            }
        }
        let out = serde_json::to_string(&Filtered).unwrap();
        assert_eq!(out, r#"{"kept":1,"7":"non-string key passes"}"#);
    }
}

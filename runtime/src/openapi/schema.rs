//! The JSON Schema of a `details` object, built from its fields' types as
//! the serializer writes them: one property per entry, a flattened field's
//! properties merged in, and the schemas the fields refer to inlined, so
//! every schema in an error's document stands alone.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};

/// The schema of a type shown in `details`, for types utoipa's
/// [`ToSchema`](utoipa::ToSchema) does not cover (`Duration`, `Arc<T>`,
/// arrays, ...) or covers differently from how serde writes them.
///
/// A detail field's schema comes from this trait when the type implements
/// it, else from `utoipa::ToSchema` (which `#[derive(utoipa::ToSchema)]`
/// gives your own types). A field whose type implements neither is a
/// compile error at its type (with the `openapi` feature). A generic field
/// (`value: T`) needs `T: DetailSchema`.
///
/// Implemented for the integers, floats, `bool`, `char`, strings (`String`,
/// `str`, `Box<str>`, `Arc<str>`, `Cow<str>`), `Option`, `Vec`, slices,
/// arrays, `VecDeque`, sets, maps with string keys, `Box`, `Rc`, `Arc`,
/// references, `Duration`, `SystemTime`, [`crate::RateLimit`],
/// `serde_json::Value` and `()`.
///
/// ```
/// use rebuff::openapi::{DetailSchema, FieldSchema};
/// use utoipa::openapi::schema::{ObjectBuilder, Type};
///
/// /// A lead's id, written as a string.
/// struct LeadId(u64);
///
/// impl DetailSchema for LeadId {
///     fn detail_schema() -> FieldSchema {
///         FieldSchema::new(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^lead_")))
///     }
/// }
/// # let _ = LeadId::detail_schema();
/// ```
pub trait DetailSchema {
    /// The schema of the value as serde writes it.
    fn detail_schema() -> FieldSchema;
}

/// A schema and the named schemas it refers to (`#/components/schemas/...`),
/// which rebuff inlines.
#[derive(Clone, Default)]
pub struct FieldSchema {
    pub(crate) schema: RefOr<Schema>,
    pub(crate) components: Vec<(String, RefOr<Schema>)>,
}

impl core::fmt::Debug for FieldSchema {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let json = serde_json::to_string(&self.schema).unwrap_or_default();
        f.debug_struct("FieldSchema")
            .field("schema", &json)
            .finish_non_exhaustive()
    }
}

impl FieldSchema {
    /// A schema that refers to no named schema.
    #[must_use]
    pub fn new(schema: impl Into<RefOr<Schema>>) -> Self {
        FieldSchema {
            schema: schema.into(),
            components: Vec::new(),
        }
    }

    /// A schema with the named schemas its `$ref`s point at, as
    /// `utoipa::ToSchema::schemas` lists them.
    #[must_use]
    pub fn with_components(
        schema: impl Into<RefOr<Schema>>,
        components: Vec<(String, RefOr<Schema>)>,
    ) -> Self {
        FieldSchema {
            schema: schema.into(),
            components,
        }
    }

    /// The schema, with every `$ref` to one of its components replaced by
    /// the component itself. A recursive type's reference to itself (or to
    /// a type it is inside of) is an open schema: inlined, it would never
    /// end.
    #[must_use]
    pub fn inlined(&self) -> RefOr<Schema> {
        let names: BTreeMap<&str, &RefOr<Schema>> = self
            .components
            .iter()
            .map(|(name, schema)| (name.as_str(), schema))
            .collect();
        Inliner {
            names,
            within: Vec::new(),
        }
        .inline(&self.schema)
    }
}

/// Levels of `$ref` followed before a schema is left open, however deep a
/// chain of types that are not recursive goes.
const MAX_INLINE_DEPTH: usize = 8;

const SCHEMA_PREFIX: &str = "#/components/schemas/";

/// Inlines `$ref`s to `names`, `within` the components being inlined.
struct Inliner<'a> {
    names: BTreeMap<&'a str, &'a RefOr<Schema>>,
    within: Vec<&'a str>,
}

impl Inliner<'_> {
    fn inline(&mut self, schema: &RefOr<Schema>) -> RefOr<Schema> {
        match schema {
            RefOr::Ref(reference) => {
                let target = reference
                    .ref_location
                    .strip_prefix(SCHEMA_PREFIX)
                    .and_then(|name| self.names.get_key_value(name))
                    .map(|(&name, &target)| (name, target));
                match target {
                    Some((name, target))
                        if self.within.len() < MAX_INLINE_DEPTH && !self.within.contains(&name) =>
                    {
                        self.within.push(name);
                        let inlined = self.inline(target);
                        self.within.pop();
                        inlined
                    }
                    // A schema we cannot resolve, or one we are inside of:
                    // any value, rather than a reference the document lacks.
                    _ => RefOr::T(any()),
                }
            }
            RefOr::T(schema) => {
                let mut schema = schema.clone();
                self.inline_in(&mut schema);
                RefOr::T(schema)
            }
        }
    }

    /// Inlines the `$ref`s of `schema`, in place.
    fn inline_in(&mut self, schema: &mut Schema) {
        match schema {
            Schema::Object(object) => {
                for value in object.properties.values_mut() {
                    *value = self.inline(value);
                }
                if let Some(AdditionalProperties::RefOr(value)) =
                    object.additional_properties.as_deref_mut()
                {
                    *value = self.inline(value);
                }
                if let Some(names) = object.property_names.as_deref_mut() {
                    self.inline_in(names);
                }
            }
            Schema::Array(array) => {
                if let utoipa::openapi::schema::ArrayItems::RefOrSchema(items) = &mut array.items {
                    **items = self.inline(items);
                }
                // A tuple's items.
                for item in &mut array.prefix_items {
                    self.inline_in(item);
                }
            }
            Schema::OneOf(one_of) => {
                for item in &mut one_of.items {
                    *item = self.inline(item);
                }
            }
            Schema::AllOf(all_of) => {
                for item in &mut all_of.items {
                    *item = self.inline(item);
                }
            }
            Schema::AnyOf(any_of) => {
                for item in &mut any_of.items {
                    *item = self.inline(item);
                }
            }
            _ => {}
        }
    }
}

/// Any JSON value.
pub(crate) fn any() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .into()
}

pub(crate) fn of_type(ty: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(ty)
}

fn integer(format: KnownFormat, unsigned: bool) -> Schema {
    let builder = of_type(Type::Integer).format(Some(SchemaFormat::KnownFormat(format)));
    if unsigned {
        builder.minimum(Some(0)).into()
    } else {
        builder.into()
    }
}

/// `anyOf: [null, schema]`: what serde writes for an `Option`. Not `oneOf`:
/// when `schema` admits `null` too (an `Option<serde_json::Value>`, an
/// `Option<Option<T>>`), a `null` would match both and fail `oneOf`.
pub(crate) fn nullable(schema: RefOr<Schema>) -> Schema {
    AnyOfBuilder::new()
        .item(of_type(Type::Null))
        .item(schema)
        .into()
}

macro_rules! integers {
    ($($ty:ty => $format:ident, $unsigned:literal;)*) => {$(
        impl DetailSchema for $ty {
            fn detail_schema() -> FieldSchema {
                FieldSchema::new(integer(KnownFormat::$format, $unsigned))
            }
        }
    )*};
}

integers! {
    i8 => Int32, false; i16 => Int32, false; i32 => Int32, false; i64 => Int64, false;
    i128 => Int64, false; isize => Int64, false;
    u8 => Int32, true; u16 => Int32, true; u32 => Int32, true; u64 => Int64, true;
    u128 => Int64, true; usize => Int64, true;
}

impl DetailSchema for f32 {
    fn detail_schema() -> FieldSchema {
        FieldSchema::new(
            of_type(Type::Number).format(Some(SchemaFormat::KnownFormat(KnownFormat::Float))),
        )
    }
}

impl DetailSchema for f64 {
    fn detail_schema() -> FieldSchema {
        FieldSchema::new(
            of_type(Type::Number).format(Some(SchemaFormat::KnownFormat(KnownFormat::Double))),
        )
    }
}

impl DetailSchema for bool {
    fn detail_schema() -> FieldSchema {
        FieldSchema::new(of_type(Type::Boolean))
    }
}

impl DetailSchema for char {
    fn detail_schema() -> FieldSchema {
        FieldSchema::new(
            of_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(1)),
        )
    }
}

macro_rules! strings {
    ($($ty:ty),*) => {$(
        impl DetailSchema for $ty {
            fn detail_schema() -> FieldSchema {
                FieldSchema::new(of_type(Type::String))
            }
        }
    )*};
}

strings!(String, str);

impl DetailSchema for Cow<'_, str> {
    fn detail_schema() -> FieldSchema {
        FieldSchema::new(of_type(Type::String))
    }
}

impl DetailSchema for () {
    fn detail_schema() -> FieldSchema {
        FieldSchema::new(of_type(Type::Null))
    }
}

impl DetailSchema for serde_json::Value {
    fn detail_schema() -> FieldSchema {
        FieldSchema::new(any())
    }
}

impl<T: DetailSchema> DetailSchema for Option<T> {
    fn detail_schema() -> FieldSchema {
        let inner = T::detail_schema();
        FieldSchema::with_components(nullable(inner.schema), inner.components)
    }
}

macro_rules! wrappers {
    ($($ty:ty),*) => {$(
        impl<T: DetailSchema + ?Sized> DetailSchema for $ty {
            fn detail_schema() -> FieldSchema {
                T::detail_schema()
            }
        }
    )*};
}

wrappers!(&T, &mut T, Box<T>, Rc<T>, Arc<T>);

fn array_of<T: DetailSchema + ?Sized>(unique: bool) -> FieldSchema {
    let inner = T::detail_schema();
    let array = ArrayBuilder::new().items(inner.schema).unique_items(unique);
    FieldSchema::with_components(array, inner.components)
}

macro_rules! sequences {
    ($($ty:ty => $unique:literal),*) => {$(
        impl<T: DetailSchema> DetailSchema for $ty {
            fn detail_schema() -> FieldSchema {
                array_of::<T>($unique)
            }
        }
    )*};
}

sequences!(Vec<T> => false, [T] => false, VecDeque<T> => false, BTreeSet<T> => true);

impl<T: DetailSchema, S> DetailSchema for HashSet<T, S> {
    fn detail_schema() -> FieldSchema {
        array_of::<T>(true)
    }
}

impl<T: DetailSchema, const N: usize> DetailSchema for [T; N] {
    fn detail_schema() -> FieldSchema {
        let inner = T::detail_schema();
        let array = ArrayBuilder::new()
            .items(inner.schema)
            .min_items(Some(N))
            .max_items(Some(N));
        FieldSchema::with_components(array, inner.components)
    }
}

/// A map's keys, as JSON object keys: strings whatever their type.
fn map_of<V: DetailSchema>() -> FieldSchema {
    let inner = V::detail_schema();
    let object = of_type(Type::Object).additional_properties(Some(inner.schema));
    FieldSchema::with_components(object, inner.components)
}

impl<K, V: DetailSchema> DetailSchema for BTreeMap<K, V> {
    fn detail_schema() -> FieldSchema {
        map_of::<V>()
    }
}

impl<K, V: DetailSchema, S> DetailSchema for HashMap<K, V, S> {
    fn detail_schema() -> FieldSchema {
        map_of::<V>()
    }
}

/// serde's form of both: `{"secs":..,"nanos":..}` and
/// `{"secs_since_epoch":..,"nanos_since_epoch":..}`.
fn seconds_and_nanos(secs: &str, nanos: &str) -> FieldSchema {
    FieldSchema::new(
        of_type(Type::Object)
            .property(secs, integer(KnownFormat::Int64, true))
            .property(nanos, integer(KnownFormat::Int32, true))
            .required(secs)
            .required(nanos)
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false))),
    )
}

/// The schema of a `retry_after` field in `details`: whole seconds, `null`
/// too if the field is optional.
#[doc(hidden)]
#[must_use]
pub fn retry_after_schema<T: crate::fields::RetryAfterField + ?Sized>() -> FieldSchema {
    if T::__REBUFF_OPTIONAL {
        <Option<u64>>::detail_schema()
    } else {
        u64::detail_schema()
    }
}

/// The schema of an `errors` field: a list of strings.
#[doc(hidden)]
#[must_use]
pub fn errors_schema() -> FieldSchema {
    <Vec<String>>::detail_schema()
}

impl DetailSchema for Duration {
    fn detail_schema() -> FieldSchema {
        seconds_and_nanos("secs", "nanos")
    }
}

impl DetailSchema for SystemTime {
    fn detail_schema() -> FieldSchema {
        seconds_and_nanos("secs_since_epoch", "nanos_since_epoch")
    }
}

impl DetailSchema for crate::RateLimit {
    fn detail_schema() -> FieldSchema {
        let count = || integer(KnownFormat::Int64, true);
        FieldSchema::new(
            of_type(Type::Object)
                .property("limit", count())
                .property("remaining", count())
                .property("reset", count())
                .required("limit")
                .required("remaining")
                .required("reset")
                .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false))),
        )
    }
}

/// The `details` object of one error: its entries in the order the
/// serializer writes them, and whether keys beyond them may appear (a
/// flattened map, or a flattened value whose schema is not an object).
#[derive(Clone, Default)]
pub struct Details {
    properties: Vec<Property>,
    open: bool,
}

#[derive(Clone)]
struct Property {
    key: String,
    schema: RefOr<Schema>,
    required: bool,
}

impl core::fmt::Debug for Details {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Details")
            .field("keys", &self.keys().collect::<Vec<_>>())
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl Details {
    /// Adds an entry: `key`, always written.
    pub(crate) fn entry(&mut self, key: &str, schema: &FieldSchema) {
        self.push(key.to_owned(), schema.inlined(), true);
    }

    /// Adds an entry that only some occurrences write.
    pub(crate) fn optional(&mut self, key: &str, schema: &FieldSchema) {
        self.push(key.to_owned(), schema.inlined(), false);
    }

    fn push(&mut self, key: String, schema: RefOr<Schema>, required: bool) {
        // A later entry of one key overwrites the earlier in the JSON a
        // client reads; keep one property.
        self.properties.retain(|p| p.key != key);
        self.properties.push(Property {
            key,
            schema,
            required,
        });
    }

    /// Adds the entries of a flattened value: an object's properties (not
    /// required when the value may be `null`, which writes nothing), else
    /// any keys at all.
    pub(crate) fn flatten(&mut self, schema: &FieldSchema) {
        match schema.inlined() {
            RefOr::T(Schema::Object(object)) => self.merge(object, false),
            RefOr::T(
                Schema::OneOf(utoipa::openapi::schema::OneOf { items, .. })
                | Schema::AnyOf(utoipa::openapi::schema::AnyOf { items, .. }),
            ) => {
                let mut objects = items.into_iter().filter_map(|item| match item {
                    RefOr::T(Schema::Object(object)) if !is_null(&object) => Some(object),
                    _ => None,
                });
                match (objects.next(), objects.next()) {
                    (Some(object), None) => self.merge(object, true),
                    _ => self.open = true,
                }
            }
            _ => self.open = true,
        }
    }

    fn merge(&mut self, object: utoipa::openapi::schema::Object, optional: bool) {
        // An object that says nothing of its keys is open, as a map's is.
        let says_nothing = object.properties.is_empty() && object.additional_properties.is_none();
        if says_nothing
            || !matches!(
                object.additional_properties.as_deref(),
                None | Some(AdditionalProperties::FreeForm(false))
            )
        {
            self.open = true;
        }
        for (key, schema) in object.properties {
            let is_required = !optional && object.required.contains(&key);
            self.push(key, schema, is_required);
        }
    }

    /// The keys of the entries, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.properties.iter().map(|p| p.key.as_str())
    }

    /// Whether other keys than [`Details::keys`] may appear.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The entries as properties of `object`, leaving out `reserved` keys
    /// (RFC 9457's members, which a detail never shadows).
    pub(crate) fn add_to(&self, mut object: ObjectBuilder, reserved: &[&str]) -> ObjectBuilder {
        for property in &self.properties {
            if reserved.contains(&property.key.as_str()) {
                continue;
            }
            object = object.property(&property.key, property.schema.clone());
            if property.required {
                object = object.required(&property.key);
            }
        }
        object
    }

    /// The `details` object itself.
    #[must_use]
    pub fn schema(&self) -> Schema {
        self.add_to(of_type(Type::Object), &[])
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(self.open)))
            .into()
    }
}

fn is_null(object: &utoipa::openapi::schema::Object) -> bool {
    matches!(object.schema_type, SchemaType::Type(Type::Null))
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::Ref;

    use super::*;

    /// `Expr { op, left: Expr, right: Expr, args: [Expr] }`, recursive.
    fn expr() -> FieldSchema {
        let node = || RefOr::Ref(Ref::from_schema_name("Expr"));
        let expr = ObjectBuilder::new()
            .property("op", of_type(Type::String))
            .property("left", node())
            .property("right", node())
            .property(
                "args",
                utoipa::openapi::schema::ArrayBuilder::new().items(node()),
            )
            .build();
        FieldSchema::with_components(node(), vec![("Expr".to_owned(), RefOr::T(expr.into()))])
    }

    #[test]
    fn a_recursive_type_is_inlined_once_its_inner_selves_left_open() {
        let RefOr::T(Schema::Object(expr)) = expr().inlined() else {
            panic!("the component, inlined");
        };
        assert!(matches!(expr.properties["op"], RefOr::T(Schema::Object(_))));
        for inner in ["left", "right"] {
            let RefOr::T(Schema::Object(open)) = &expr.properties[inner] else {
                panic!("{inner}: not an object");
            };
            assert!(open.properties.is_empty(), "{inner} not expanded again");
            assert!(
                open.schema_type == SchemaType::AnyValue,
                "{inner}: any value"
            );
        }
        let RefOr::T(Schema::Array(args)) = &expr.properties["args"] else {
            panic!("an array");
        };
        let utoipa::openapi::schema::ArrayItems::RefOrSchema(item) = &args.items else {
            panic!("its items");
        };
        assert!(matches!(&**item, RefOr::T(Schema::Object(o)) if o.properties.is_empty()));
    }
}

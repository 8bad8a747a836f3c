//! The sample values the derive builds each variant from, so that an
//! example in the document is what the server renders for that value.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A placeholder value of a field, for the examples of an API document:
/// what a field shows when it has no `#[api(example = ...)]`.
///
/// `name` is the field's name as written (`lead_id`, or `0` for a tuple
/// field): strings show it, so that an example reads
/// `{"leadId":"lead_id"}` rather than `"string"`. Numbers are `1`, `bool`
/// is `false`, an `Option` is `Some`, a collection holds one sample, a
/// `Duration` is a second, a `SystemTime` is 2024-01-16T10:30:00Z.
///
/// A field whose type implements neither `Sample` nor `Default` needs
/// `#[api(example = ...)]` (with the `openapi` feature); a generic field
/// (`value: T`) needs `T: Sample`.
///
/// ```
/// use rebuff::openapi::Sample;
///
/// struct LeadId(String);
///
/// impl Sample for LeadId {
///     fn sample(_name: &'static str) -> Self {
///         LeadId("lead_1a2b3c".into())
///     }
/// }
/// # assert_eq!(LeadId::sample("id").0, "lead_1a2b3c");
/// ```
pub trait Sample: Sized {
    /// A value for the field `name`.
    fn sample(name: &'static str) -> Self;
}

macro_rules! numbers {
    ($($ty:ty => $one:expr),*) => {$(
        impl Sample for $ty {
            fn sample(_: &'static str) -> Self {
                $one
            }
        }
    )*};
}

numbers!(
    u8 => 1, u16 => 1, u32 => 1, u64 => 1, u128 => 1, usize => 1,
    i8 => 1, i16 => 1, i32 => 1, i64 => 1, i128 => 1, isize => 1,
    f32 => 1.0, f64 => 1.0, bool => false, () => ()
);

impl Sample for char {
    fn sample(name: &'static str) -> Self {
        name.chars().next().unwrap_or('a')
    }
}

impl Sample for String {
    fn sample(name: &'static str) -> Self {
        name.to_owned()
    }
}

impl Sample for &str {
    fn sample(name: &'static str) -> Self {
        name
    }
}

impl Sample for Box<str> {
    fn sample(name: &'static str) -> Self {
        name.into()
    }
}

impl Sample for Arc<str> {
    fn sample(name: &'static str) -> Self {
        name.into()
    }
}

impl Sample for Rc<str> {
    fn sample(name: &'static str) -> Self {
        name.into()
    }
}

impl Sample for Cow<'_, str> {
    fn sample(name: &'static str) -> Self {
        Cow::Borrowed(name)
    }
}

impl Sample for serde_json::Value {
    fn sample(name: &'static str) -> Self {
        serde_json::Value::from(name)
    }
}

impl<T: Sample> Sample for Option<T> {
    fn sample(name: &'static str) -> Self {
        Some(T::sample(name))
    }
}

impl<T: Sample> Sample for Box<T> {
    fn sample(name: &'static str) -> Self {
        Box::new(T::sample(name))
    }
}

impl<T: Sample> Sample for Rc<T> {
    fn sample(name: &'static str) -> Self {
        Rc::new(T::sample(name))
    }
}

impl<T: Sample> Sample for Arc<T> {
    fn sample(name: &'static str) -> Self {
        Arc::new(T::sample(name))
    }
}

impl<T: Sample> Sample for Vec<T> {
    fn sample(name: &'static str) -> Self {
        vec![T::sample(name)]
    }
}

impl<T: Sample> Sample for VecDeque<T> {
    fn sample(name: &'static str) -> Self {
        VecDeque::from([T::sample(name)])
    }
}

impl<T: Sample + Ord> Sample for BTreeSet<T> {
    fn sample(name: &'static str) -> Self {
        BTreeSet::from([T::sample(name)])
    }
}

impl<T: Sample + Eq + Hash, S: BuildHasher + Default> Sample for HashSet<T, S> {
    fn sample(name: &'static str) -> Self {
        let mut set = HashSet::default();
        set.insert(T::sample(name));
        set
    }
}

impl<K: Sample + Ord, V: Sample> Sample for BTreeMap<K, V> {
    fn sample(name: &'static str) -> Self {
        BTreeMap::from([(K::sample(name), V::sample(name))])
    }
}

impl<K: Sample + Eq + Hash, V: Sample, S: BuildHasher + Default> Sample for HashMap<K, V, S> {
    fn sample(name: &'static str) -> Self {
        let mut map = HashMap::default();
        map.insert(K::sample(name), V::sample(name));
        map
    }
}

impl<T: Sample, const N: usize> Sample for [T; N] {
    fn sample(name: &'static str) -> Self {
        core::array::from_fn(|_| T::sample(name))
    }
}

impl Sample for Duration {
    fn sample(_: &'static str) -> Self {
        Duration::from_secs(1)
    }
}

/// 2024-01-16T10:30:00Z: the time every example shows.
pub(crate) const SAMPLE_TIME_SECS: u64 = 1_705_401_000;

impl Sample for SystemTime {
    fn sample(_: &'static str) -> Self {
        UNIX_EPOCH + Duration::from_secs(SAMPLE_TIME_SECS)
    }
}

impl Sample for crate::RateLimit {
    fn sample(_: &'static str) -> Self {
        crate::RateLimit {
            limit: 60,
            remaining: 0,
            reset: SAMPLE_TIME_SECS + 60,
        }
    }
}

impl Sample for std::io::Error {
    fn sample(name: &'static str) -> Self {
        std::io::Error::other(name)
    }
}

impl Sample for Box<dyn std::error::Error + Send + Sync> {
    fn sample(name: &'static str) -> Self {
        name.into()
    }
}

impl Sample for Box<dyn std::error::Error> {
    fn sample(name: &'static str) -> Self {
        name.into()
    }
}

impl Sample for crate::CircuitOpen {
    fn sample(_: &'static str) -> Self {
        crate::CircuitOpen {
            retry_after: Some(Duration::from_secs(10)),
        }
    }
}

impl Sample for crate::client::RemoteError {
    fn sample(name: &'static str) -> Self {
        crate::client::RemoteError::parse(
            http::StatusCode::BAD_GATEWAY,
            &http::HeaderMap::new(),
            name.as_bytes(),
        )
    }
}

/// The standard library's parse errors, made by failing to parse.
macro_rules! parse_errors {
    ($($ty:ty => $make:expr),*) => {$(
        impl Sample for $ty {
            fn sample(_: &'static str) -> Self {
                match $make {
                    Err(err) => err,
                    Ok(_) => unreachable!("a parse of a non-number fails"),
                }
            }
        }
    )*};
}

parse_errors!(
    core::num::ParseIntError => "x".parse::<u8>(),
    core::num::ParseFloatError => "x".parse::<f64>(),
    std::net::AddrParseError => "x".parse::<std::net::IpAddr>(),
    serde_json::Error => serde_json::from_str::<()>("x")
);

#[cfg(feature = "reqwest")]
impl Sample for reqwest::Error {
    fn sample(_: &'static str) -> Self {
        // A URL without a scheme fails to build, without a network; a
        // client that cannot be made (no TLS backend) is an error too.
        match reqwest::Client::builder().build() {
            Ok(client) => match client.get("no scheme").build() {
                Err(err) => err,
                Ok(_) => unreachable!("a URL without a scheme does not build"),
            },
            Err(err) => err,
        }
    }
}

/// A marker of a generic type's parameter (a skipped field, shown nowhere).
impl<T: ?Sized> Sample for core::marker::PhantomData<T> {
    fn sample(_: &'static str) -> Self {
        core::marker::PhantomData
    }
}

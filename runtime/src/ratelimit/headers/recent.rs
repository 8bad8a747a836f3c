//! Header values this thread made lately, found again by their bytes.
//!
//! The values of a rate-limit header repeat: every response within a second
//! whose window is full again then announces the same reset second, and
//! callers far from their limits get the same `RateLimit` field. A value
//! made before is shared (a count incremented); a new one costs an
//! allocation and a validation of its bytes. The table is direct-mapped:
//! a value evicts whichever one had its slot, so it stays
//! [`SLOTS`] values of at most [`LONGEST`] bytes per thread (about 16 KiB),
//! whatever the traffic.

use std::cell::RefCell;

use bytes::Bytes;
use http::HeaderValue;

/// Values kept per thread.
const SLOTS: usize = 128;
/// The longest value kept; longer ones are made each time.
pub(super) const LONGEST: usize = 64;

thread_local! {
    static TABLE: RefCell<Vec<Option<HeaderValue>>> = const { RefCell::new(Vec::new()) };
}

/// `bytes` as a header value, shared with the last one made of the same
/// bytes on this thread if it is still kept; `None` when they are not a
/// valid value.
pub(super) fn value(bytes: &[u8]) -> Option<HeaderValue> {
    if bytes.len() > LONGEST {
        return fresh(bytes);
    }
    let slot = slot(bytes);
    // No table (the thread is ending, or a value is being made inside a
    // lookup): made afresh.
    let kept = TABLE.try_with(|table| {
        let mut table = table.try_borrow_mut().ok()?;
        if table.is_empty() {
            table.resize(SLOTS, None);
        }
        let entry = table.get_mut(slot)?;
        match entry {
            Some(value) if value.as_bytes() == bytes => Some(value.clone()),
            _ => {
                let value = fresh(bytes)?;
                *entry = Some(value.clone());
                Some(value)
            }
        }
    });
    match kept {
        Ok(Some(value)) => Some(value),
        _ => fresh(bytes),
    }
}

/// A value of its own: one allocation holding the bytes and their count,
/// so that sharing it later allocates nothing.
fn fresh(bytes: &[u8]) -> Option<HeaderValue> {
    let stored = if bytes.len() <= LONGEST {
        let mut buf = [0u8; LONGEST];
        buf[..bytes.len()].copy_from_slice(bytes);
        Bytes::from_owner(Inline {
            buf,
            len: bytes.len(),
        })
    } else {
        Bytes::copy_from_slice(bytes)
    };
    HeaderValue::from_maybe_shared(stored).ok()
}

/// A short value's storage.
struct Inline {
    buf: [u8; LONGEST],
    len: usize,
}

impl AsRef<[u8]> for Inline {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The slot of `bytes`: a multiplicative hash of their 8-byte words (not
/// keyed: a value chosen to collide only costs its own sharing).
fn slot(bytes: &[u8]) -> usize {
    let mut hash = bytes.len() as u64;
    let mut words = bytes.chunks(8);
    for word in &mut words {
        let mut padded = [0u8; 8];
        padded[..word.len()].copy_from_slice(word);
        hash = (hash ^ u64::from_le_bytes(padded))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
    usize::try_from(hash >> 32).unwrap_or(0) % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_made_again_is_the_one_kept() {
        let first = value(b"1699564819").unwrap();
        let again = value(b"1699564819").unwrap();
        assert_eq!(again, "1699564819");
        assert_eq!(first.as_bytes().as_ptr(), again.as_bytes().as_ptr());
        assert_ne!(value(b"1699564820").unwrap(), again);
    }

    #[test]
    fn values_sharing_a_slot_each_come_back_as_themselves() {
        let values: Vec<String> = (0..4 * SLOTS)
            .map(|n| format!(r#""free";r={n};t=1"#))
            .collect();
        for round in 0..2 {
            for text in &values {
                assert_eq!(
                    value(text.as_bytes()).unwrap(),
                    text.as_str(),
                    "round {round}"
                );
            }
        }
    }

    #[test]
    fn long_and_invalid_values() {
        let long = "9".repeat(LONGEST + 1);
        assert_eq!(value(long.as_bytes()).unwrap(), long.as_str());
        assert_eq!(value(b"").unwrap(), "");
        assert!(value(b"a\tb").is_some());
        assert!(value(b"a\nb").is_none());
        assert!(value(b"a\rb").is_none());
        assert!(value(b"a\x7fb").is_none());
        assert!(value(&[b'1'; LONGEST]).is_some());
    }
}

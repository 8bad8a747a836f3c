//! How a type spells its codes and `details` keys, and where its RFC 9457
//! problem types live: what `code_case`, `rename_all` and `type_base` say
//! on the derive, kept at run time so that errors rebuff makes itself (the
//! server's [`Rejection`](crate::Rejection)s) are spelled the same way.

/// A case, by serde's names for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Case {
    /// `lowercase`: `leadnotfound`.
    Lower,
    /// `UPPERCASE`: `LEADNOTFOUND`.
    Upper,
    /// `PascalCase`: `LeadNotFound`.
    Pascal,
    /// `camelCase`: `leadNotFound`.
    Camel,
    /// `snake_case`: `lead_not_found`.
    Snake,
    /// `SCREAMING_SNAKE_CASE`: `LEAD_NOT_FOUND`.
    ScreamingSnake,
    /// `kebab-case`: `lead-not-found`.
    Kebab,
    /// `SCREAMING-KEBAB-CASE`: `LEAD-NOT-FOUND`.
    ScreamingKebab,
}

impl Case {
    /// Every case, in a fixed order (the index of each is its place here).
    pub const ALL: [Case; 8] = [
        Case::Lower,
        Case::Upper,
        Case::Pascal,
        Case::Camel,
        Case::Snake,
        Case::ScreamingSnake,
        Case::Kebab,
        Case::ScreamingKebab,
    ];

    /// serde's name of the case, as `rename_all` and `code_case` take it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Case::Lower => "lowercase",
            Case::Upper => "UPPERCASE",
            Case::Pascal => "PascalCase",
            Case::Camel => "camelCase",
            Case::Snake => "snake_case",
            Case::ScreamingSnake => "SCREAMING_SNAKE_CASE",
            Case::Kebab => "kebab-case",
            Case::ScreamingKebab => "SCREAMING-KEBAB-CASE",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    const fn separator(self) -> Option<u8> {
        match self {
            Case::Snake | Case::ScreamingSnake => Some(b'_'),
            Case::Kebab | Case::ScreamingKebab => Some(b'-'),
            Case::Lower | Case::Upper | Case::Pascal | Case::Camel => None,
        }
    }

    /// Whether the letter at a word's start (`word`: which word) is upper
    /// case, and the rest of the word's letters.
    const fn upper(self, word: usize, first: bool) -> bool {
        match self {
            Case::Upper | Case::ScreamingSnake | Case::ScreamingKebab => true,
            Case::Lower | Case::Snake | Case::Kebab => false,
            Case::Pascal => first,
            Case::Camel => first && word > 0,
        }
    }
}

/// How a type's errors are spelled: [`ApiError::STYLE`](crate::ApiError::STYLE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Style {
    /// The case of codes (`code_case`).
    pub code_case: Case,
    /// The case of `details` keys (`rename_all`); `None` keeps field names
    /// as written (`snake_case` for Rust fields).
    pub key_case: Option<Case>,
    /// The base URI of RFC 9457 `type` (`type_base`); `None` renders
    /// `"about:blank"`.
    pub type_base: Option<&'static str>,
}

impl Style {
    /// `snake_case` codes, keys as written, `about:blank` problem types: the
    /// derive's defaults.
    pub const DEFAULT: Style = Style {
        code_case: Case::Snake,
        key_case: None,
        type_base: None,
    };
}

impl Default for Style {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The longest name [`Spelled`] holds.
const MAX: usize = 40;

/// A `snake_case` name spelled in another case, built at compile time.
#[derive(Clone, Copy)]
pub(crate) struct Spelled {
    bytes: [u8; MAX],
    len: usize,
}

impl Spelled {
    /// `snake` (lowercase ASCII words joined by `_`) in `case`.
    pub(crate) const fn new(snake: &str, case: Case) -> Spelled {
        let snake = snake.as_bytes();
        assert!(snake.len() <= MAX, "name too long");
        let mut bytes = [0u8; MAX];
        let mut len = 0;
        let mut word = 0;
        let mut first = true;
        let mut i = 0;
        while i < snake.len() {
            let b = snake[i];
            i += 1;
            if b == b'_' {
                if let Some(separator) = case.separator() {
                    bytes[len] = separator;
                    len += 1;
                }
                word += 1;
                first = true;
                continue;
            }
            bytes[len] = if case.upper(word, first) {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            };
            len += 1;
            first = false;
        }
        Spelled { bytes, len }
    }

    /// Every case of `snake`, indexed as [`Case::ALL`].
    pub(crate) const fn all(snake: &str) -> [Spelled; 8] {
        let mut out = [Spelled {
            bytes: [0; MAX],
            len: 0,
        }; 8];
        let mut i = 0;
        while i < Case::ALL.len() {
            out[i] = Spelled::new(snake, Case::ALL[i]);
            i += 1;
        }
        out
    }

    pub(crate) fn as_str(&self) -> &str {
        // Built from ASCII only.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }

    /// Whether `text` is this spelling.
    pub(crate) const fn is(&self, text: &str) -> bool {
        let text = text.as_bytes();
        if text.len() != self.len {
            return false;
        }
        let mut i = 0;
        while i < text.len() {
            if text[i] != self.bytes[i] {
                return false;
            }
            i += 1;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_names_in_every_case() {
        let spelled: Vec<String> = Spelled::all("payload_too_large")
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        assert_eq!(
            spelled,
            [
                "payloadtoolarge",
                "PAYLOADTOOLARGE",
                "PayloadTooLarge",
                "payloadTooLarge",
                "payload_too_large",
                "PAYLOAD_TOO_LARGE",
                "payload-too-large",
                "PAYLOAD-TOO-LARGE",
            ]
        );
        assert!(Spelled::new("max_size", Case::Camel).is("maxSize"));
        assert!(!Spelled::new("max_size", Case::Camel).is("maxsize"));
        for case in Case::ALL {
            assert_eq!(Case::ALL[case.index()], case);
        }
    }
}

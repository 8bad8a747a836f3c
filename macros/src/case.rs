//! Case conversion for codes (from variant names) and detail keys (from
//! field names), with serde's names for the cases.

use crate::suggest::list;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

pub(crate) const CASE_NAMES: &[(&str, Case)] = &[
    ("lowercase", Case::Lower),
    ("UPPERCASE", Case::Upper),
    ("PascalCase", Case::Pascal),
    ("camelCase", Case::Camel),
    ("snake_case", Case::Snake),
    ("SCREAMING_SNAKE_CASE", Case::ScreamingSnake),
    ("kebab-case", Case::Kebab),
    ("SCREAMING-KEBAB-CASE", Case::ScreamingKebab),
];

impl Case {
    /// The runtime's `rebuff::Case` of the same name.
    pub(crate) fn tokens(self) -> proc_macro2::TokenStream {
        let variant = proc_macro2::Ident::new(&format!("{self:?}"), proc_macro2::Span::call_site());
        quote::quote!(::rebuff::Case::#variant)
    }

    pub(crate) fn from_name(name: &str) -> Option<Case> {
        CASE_NAMES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    pub(crate) fn expected() -> String {
        list(CASE_NAMES.iter().map(|(n, _)| n))
    }

    /// Converts an identifier written in either `PascalCase` (a variant) or
    /// `snake_case` (a field).
    pub(crate) fn apply(self, ident: &str) -> String {
        let ident = ident.strip_prefix("r#").unwrap_or(ident);
        let words = split_words(ident);
        let lower = |w: &str| w.to_lowercase();
        let upper = |w: &str| w.to_uppercase();
        // A word written with capitals (`Timeout`, the acronym `HTTP`) stays
        // as written; a lower-case one (`lead`, from a field) is capitalized.
        let capital = |w: &str| {
            if w.chars().any(char::is_uppercase) {
                return w.to_owned();
            }
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        };
        match self {
            Case::Lower => words.iter().map(|w| lower(w)).collect(),
            Case::Upper => words.iter().map(|w| upper(w)).collect(),
            Case::Pascal => words.iter().map(|w| capital(w)).collect(),
            Case::Camel => words
                .iter()
                .enumerate()
                .map(|(i, w)| if i == 0 { lower(w) } else { capital(w) })
                .collect(),
            Case::Snake => join(&words, "_", lower),
            Case::ScreamingSnake => join(&words, "_", upper),
            Case::Kebab => join(&words, "-", lower),
            Case::ScreamingKebab => join(&words, "-", upper),
        }
    }
}

fn join(words: &[&str], sep: &str, f: impl Fn(&str) -> String) -> String {
    words.iter().map(|w| f(w)).collect::<Vec<_>>().join(sep)
}

/// Splits at underscores and at case changes, keeping acronyms whole:
/// `HTTPRequestTimeout` is `HTTP`, `Request`, `Timeout`; `lead_id` is
/// `lead`, `id`; `Http2Error` is `Http2`, `Error`.
fn split_words(ident: &str) -> Vec<&str> {
    let mut words = Vec::new();
    for part in ident.split('_').filter(|p| !p.is_empty()) {
        let chars: Vec<(usize, char)> = part.char_indices().collect();
        let mut start = 0;
        for i in 1..chars.len() {
            let (at, c) = chars[i];
            let prev = chars[i - 1].1;
            let next_lower = chars.get(i + 1).is_some_and(|(_, n)| n.is_lowercase());
            let boundary = c.is_uppercase()
                && (prev.is_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_uppercase() && next_lower));
            if boundary {
                words.push(&part[start..at]);
                start = at;
            }
        }
        words.push(&part[start..]);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names_become_codes() {
        assert_eq!(Case::Snake.apply("LeadNotFound"), "lead_not_found");
        assert_eq!(Case::ScreamingSnake.apply("LeadNotFound"), "LEAD_NOT_FOUND");
        assert_eq!(
            Case::Snake.apply("HTTPRequestTimeout"),
            "http_request_timeout"
        );
        assert_eq!(Case::Snake.apply("Http2Error"), "http2_error");
        assert_eq!(Case::Kebab.apply("RateLimited"), "rate-limited");
        assert_eq!(Case::ScreamingKebab.apply("RateLimited"), "RATE-LIMITED");
        assert_eq!(Case::Camel.apply("RateLimited"), "rateLimited");
        assert_eq!(Case::Pascal.apply("RateLimited"), "RateLimited");
        // Acronyms stay whole in every case.
        assert_eq!(Case::Pascal.apply("HTTPTimeout"), "HTTPTimeout");
        assert_eq!(Case::Camel.apply("GetHTTPResponse"), "getHTTPResponse");
        assert_eq!(Case::Lower.apply("RateLimited"), "ratelimited");
        assert_eq!(Case::Upper.apply("RateLimited"), "RATELIMITED");
    }

    #[test]
    fn field_names_become_keys() {
        assert_eq!(Case::Camel.apply("existing_lead_id"), "existingLeadId");
        assert_eq!(Case::Pascal.apply("lead_id"), "LeadId");
        assert_eq!(Case::Snake.apply("lead_id"), "lead_id");
        assert_eq!(Case::Kebab.apply("file_size_mb"), "file-size-mb");
        assert_eq!(Case::Camel.apply("r#type"), "type");
        assert_eq!(Case::Camel.apply("_private"), "private");
    }
}

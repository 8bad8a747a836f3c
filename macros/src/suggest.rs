//! "Did you mean" hints and lists of expected names, for the messages of
//! both macros: `unknown ... `stauts`; did you mean `status`?`.

use core::fmt::Display;

/// The names in backticks, separated by commas: `` `a`, `b`, `c` ``.
pub(crate) fn list<T: Display>(names: impl IntoIterator<Item = T>) -> String {
    names
        .into_iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The candidate closest to `word`, if it is a plausible typo of it.
pub(crate) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{closest, distance, list};

    #[test]
    fn typo_suggestions() {
        assert_eq!(distance("max_retry", "max_retries"), 3);
        assert_eq!(distance("stauts", "status"), 2);
        assert_eq!(
            closest("max_retry", &["policy", "max_retries", "max_delay"]),
            Some("max_retries")
        );
        assert_eq!(closest("stauts", &["status", "code"]), Some("status"));
        assert_eq!(closest("zzz", &["status", "code"]), None);
    }

    #[test]
    fn lists_in_backticks() {
        assert_eq!(list(["status", "code"]), "`status`, `code`");
        assert_eq!(list(Vec::<&str>::new()), "");
    }
}

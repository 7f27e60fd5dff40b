//! Masking known secret values: every occurrence of a value hoist knows to be secret (the
//! spec's `secrets`, as read at configure time) becomes `***` in text hoist records or
//! prints. Pure: the caller says which values are secret.
//!
//! Values shorter than `MIN_MASKED_LEN` characters are not masked: a value that short is
//! no secret worth the name, and masking it would garble ids, times and words everywhere
//! (a secret `1` would turn every release id into asterisks). The longest values are
//! replaced first, so a secret that contains another is masked whole. A multi-line value
//! (a PEM key) is also masked line by line, because output is often cut into lines.

use std::borrow::Cow;
use std::fmt;

/// What a masked value becomes.
pub const MASK: &str = "***";

/// Values (and lines of values) with fewer characters than this are left as they are.
pub const MIN_MASKED_LEN: usize = 6;

/// The secret values to mask, longest first, without duplicates.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretMask {
    needles: Vec<String>,
}

impl SecretMask {
    pub fn new<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut mask = Self::default();
        for value in values {
            mask.add(value.as_ref());
        }
        mask
    }

    /// Learns one secret value: the value itself, trimmed, and each of its lines.
    pub fn add(&mut self, value: &str) {
        let candidates = std::iter::once(value)
            .chain(std::iter::once(value.trim()))
            .chain(value.lines().map(str::trim));
        for candidate in candidates {
            // Measured without surrounding blanks: `"  ab  "` is a two-letter secret.
            if candidate.trim().chars().count() >= MIN_MASKED_LEN
                && !self.needles.iter().any(|needle| needle == candidate)
            {
                self.needles.push(candidate.to_owned());
            }
        }
        self.needles
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// Adds every value of `other`.
    pub fn extend(&mut self, other: &SecretMask) {
        for needle in &other.needles {
            self.add(needle);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every known value replaced by `***`; borrowed when nothing matched.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut masked = Cow::Borrowed(text);
        for needle in &self.needles {
            if masked.contains(needle.as_str()) {
                masked = Cow::Owned(masked.replace(needle.as_str(), MASK));
            }
        }
        masked
    }

    /// `mask` into an owned string.
    pub fn mask_owned(&self, text: String) -> String {
        match self.mask(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(masked) => masked,
        }
    }

    /// Masks every string inside a JSON value, keys included.
    pub fn mask_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(text) => Value::String(self.mask(text).into_owned()),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.mask_json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, v)| (self.mask(key).into_owned(), self.mask_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// Never shows a value: only how many are known.
impl fmt::Debug for SecretMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretMask({} values)", self.needles.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence() {
        let mask = SecretMask::new(["s3cr3t-token"]);
        assert_eq!(mask.mask("a s3cr3t-token b s3cr3t-token"), "a *** b ***");
        assert!(matches!(mask.mask("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_longest_value_is_masked_first() {
        let mask = SecretMask::new(["abcdef", "abcdef-ghijkl"]);
        assert_eq!(mask.mask("x abcdef-ghijkl y abcdef"), "x *** y ***");
    }

    #[test]
    fn short_values_are_not_masked() {
        let mask = SecretMask::new(["12345", "", "  ab  "]);
        assert!(mask.is_empty());
        assert_eq!(mask.mask("12345 ab"), "12345 ab");
        assert_eq!(MIN_MASKED_LEN, 6);
        assert!(!SecretMask::new(["123456"]).is_empty());
    }

    #[test]
    fn a_multi_line_value_is_masked_whole_and_line_by_line() {
        let key = "-----BEGIN KEY-----\nAAAABBBBCCCC\nDDDDEEEEFFFF\n-----END KEY-----\n";
        let mask = SecretMask::new([key]);
        assert_eq!(mask.mask(&format!("key: {key}")), "key: ***");
        assert_eq!(
            mask.mask("output:\nDDDDEEEEFFFF\nend"),
            "output:\n***\nend",
            "one line of it, on its own"
        );
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(SecretMask::new(["ééééé"]).is_empty(), "5 characters");
        assert_eq!(SecretMask::new(["éééééé"]).mask("[éééééé]"), "[***]");
    }

    #[test]
    fn masks_json_strings_and_keys() {
        let mask = SecretMask::new(["hunter2-pass"]);
        let value = serde_json::json!({"a": ["x hunter2-pass", 3], "hunter2-pass": true});
        assert_eq!(
            mask.mask_json(&value),
            serde_json::json!({"a": ["x ***", 3], "***": true})
        );
    }

    #[test]
    fn debug_shows_no_value() {
        let mask = SecretMask::new(["hunter2-pass"]);
        assert_eq!(format!("{mask:?}"), "SecretMask(1 values)");
    }
}

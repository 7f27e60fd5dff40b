//! Quoting words for a POSIX shell, in the one place every command line hoist builds uses.

/// Single quotes, always: `it's` → `'it'\''s'`. For values written to files sh reads.
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Quotes only words that need it, so command lines stay readable in logs and errors.
pub fn quote_if_needed(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+=/.,:@%".contains(c));
    if plain { word.to_owned() } else { quote(word) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_always_quotes() {
        assert_eq!(quote("plain"), "'plain'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn quote_if_needed_keeps_plain_words_and_quotes_the_rest() {
        assert_eq!(quote_if_needed("uname"), "uname");
        assert_eq!(quote_if_needed("/srv/app-1.2"), "/srv/app-1.2");
        assert_eq!(quote_if_needed(""), "''");
        assert_eq!(quote_if_needed("a b"), "'a b'");
        assert_eq!(quote_if_needed("it's"), r"'it'\''s'");
        assert_eq!(quote_if_needed("$(id);x"), "'$(id);x'");
    }
}

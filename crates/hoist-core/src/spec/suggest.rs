//! "Did you mean …?": the known word closest to a misspelt one.

/// Suggestions further away than this are more confusing than helpful.
const MAX_DISTANCE: usize = 2;

/// The candidate within two edits of `word` (ties go to the earlier candidate), if any.
pub(super) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word_length = word.chars().count();
    candidates
        .iter()
        .map(|candidate| (edit_distance(word, candidate), *candidate))
        // A two-letter word is two edits from any other two-letter word.
        .filter(|(distance, _)| *distance <= MAX_DISTANCE && *distance < word_length)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
/// neighbours (`prot` → `port` is one edit), compared case-insensitively.
fn edit_distance(left: &str, right: &str) -> usize {
    let left: Vec<char> = left.to_lowercase().chars().collect();
    let right: Vec<char> = right.to_lowercase().chars().collect();
    let width = right.len() + 1;
    let mut table = vec![0usize; (left.len() + 1) * width];
    for (i, cell) in table.iter_mut().step_by(width).enumerate() {
        *cell = i;
    }
    for (j, cell) in table.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=left.len() {
        for j in 1..=right.len() {
            let cost = usize::from(left[i - 1] != right[j - 1]);
            let mut best = (table[(i - 1) * width + j] + 1)
                .min(table[i * width + j - 1] + 1)
                .min(table[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && left[i - 1] == right[j - 2] && left[i - 2] == right[j - 1] {
                best = best.min(table[(i - 2) * width + j - 2] + 1);
            }
            table[i * width + j] = best;
        }
    }
    table[left.len() * width + right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_edits() {
        assert_eq!(edit_distance("port", "port"), 0);
        assert_eq!(edit_distance("prot", "port"), 1);
        assert_eq!(edit_distance("Port", "port"), 0);
        assert_eq!(edit_distance("comand", "command"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_close_words() {
        let known = ["command", "port", "strategy", "stop_grace", "health"];
        assert_eq!(closest("prot", &known), Some("port"));
        assert_eq!(closest("stratgy", &known), Some("strategy"));
        assert_eq!(closest("helth", &known), Some("health"));
        assert_eq!(closest("listen", &known), None);
        assert_eq!(closest("po", &known), None);
    }
}

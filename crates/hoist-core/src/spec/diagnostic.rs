//! Spec diagnostics: a message, an optional `hint:`, and the byte span in the spec text
//! they are about; rendered as `file:line:column` with the offending line and a caret.

use std::fmt;
use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecDiagnostic {
    /// Lowercase, no trailing period, literal values in backticks.
    pub message: String,
    pub hint: Option<String>,
    /// Byte range into the spec text, when known.
    pub span: Option<Range<usize>>,
}

/// Every problem found in one spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecErrors(pub Vec<SpecDiagnostic>);

impl SpecErrors {
    /// Renders every diagnostic against the spec text, e.g.
    ///
    /// ```text
    /// error: unknown key `prot` in `[service]`
    ///   --> Hoist.toml:7:1
    ///    |
    ///  7 | prot = 8080
    ///    | ^^^^
    /// hint: did you mean `port`?
    /// ```
    ///
    /// Columns count characters; diagnostics are separated by a blank line.
    pub fn render(&self, path: &str, text: &str) -> String {
        let blocks: Vec<String> = self
            .0
            .iter()
            .map(|diagnostic| diagnostic.render(path, text))
            .collect();
        blocks.join("\n")
    }
}

impl SpecErrors {
    /// Every problem on one line, with its place: `unknown key `prot` in `[service]`
    /// (Hoist.toml:7:1); …` — for a record that keeps one line (a command's error).
    pub fn summary(&self, path: &str, text: &str) -> String {
        let problems: Vec<String> = self
            .0
            .iter()
            .map(|diagnostic| match &diagnostic.span {
                Some(span) => {
                    let (line, column) = line_and_column(text, span.start);
                    format!("{} ({path}:{line}:{column})", diagnostic.message)
                }
                None => diagnostic.message.clone(),
            })
            .collect();
        problems.join("; ")
    }
}

/// The 1-based line and column (in characters) of byte `index` of `text`.
fn line_and_column(text: &str, index: usize) -> (usize, usize) {
    let start = floor_char_boundary(text, index);
    let line_start = text[..start].rfind('\n').map_or(0, |newline| newline + 1);
    let line = text[..line_start].matches('\n').count() + 1;
    (line, text[line_start..start].chars().count() + 1)
}

impl SpecDiagnostic {
    /// This one diagnostic, as `SpecErrors::render` shows it, ending in a newline.
    pub fn render(&self, path: &str, text: &str) -> String {
        let mut out = format!("error: {}\n", self.message);
        if let Some(span) = &self.span {
            out.push_str(&excerpt(path, text, span));
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("hint: {hint}\n"));
        }
        out
    }
}

/// The `-->` location line and the offending line with a caret under the span.
fn excerpt(path: &str, text: &str, span: &Range<usize>) -> String {
    let start = floor_char_boundary(text, span.start);
    let line_start = text[..start].rfind('\n').map_or(0, |newline| newline + 1);
    let line_end = text[start..]
        .find('\n')
        .map_or(text.len(), |newline| start + newline);
    let line = text[line_start..line_end].trim_end_matches('\r');
    let line_number = text[..line_start].matches('\n').count() + 1;
    let before = &text[line_start..start];
    let column = before.chars().count() + 1;

    let end = floor_char_boundary(text, span.end.min(line_start + line.len()).max(start));
    let width = text[start..end].chars().count().max(1);
    // Tabs stay tabs so the caret lines up however the terminal expands them.
    let padding: String = before
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();

    let gutter = line_number.to_string().len();
    let blank = " ".repeat(gutter + 1);
    format!(
        "{blank}--> {path}:{line_number}:{column}\n\
         {blank} |\n\
         \x20{line_number} | {line}\n\
         {blank} | {padding}{carets}\n",
        carets = "^".repeat(width),
    )
}

/// The largest char boundary at or before `index`, within `text`.
fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let messages: Vec<&str> = self.0.iter().map(|d| d.message.as_str()).collect();
        f.write_str(&messages.join("; "))
    }
}

impl std::error::Error for SpecErrors {}

#[cfg(test)]
mod tests {
    use super::super::tests::position;
    use super::*;

    fn diagnostic(message: &str, hint: Option<&str>, span: Option<Range<usize>>) -> SpecDiagnostic {
        SpecDiagnostic {
            message: message.to_owned(),
            hint: hint.map(str::to_owned),
            span,
        }
    }

    #[test]
    fn renders_like_rustc() {
        let text = "[app]\nname = \"x\"\n\n[service]\ncommand = \"run\"\n\nprot = 8080\n";
        let start = position(text, "prot");
        let errors = SpecErrors(vec![diagnostic(
            "unknown key `prot` in `[service]`",
            Some("did you mean `port`?"),
            Some(start..start + 4),
        )]);
        assert_eq!(
            errors.render("Hoist.toml", text),
            "error: unknown key `prot` in `[service]`\n\
             \x20 --> Hoist.toml:7:1\n\
             \x20  |\n\
             \x207 | prot = 8080\n\
             \x20  | ^^^^\n\
             hint: did you mean `port`?\n"
        );
    }

    #[test]
    fn summarizes_every_problem_on_one_line() {
        let text = "[app]\nname = \"x\"\n\n[service]\ncommand = \"run\"\n\nprot = 8080\n";
        let start = position(text, "prot");
        let errors = SpecErrors(vec![
            diagnostic(
                "unknown key `prot` in `[service]`",
                Some("did you mean `port`?"),
                Some(start..start + 4),
            ),
            diagnostic("no environments", None, None),
        ]);
        assert_eq!(
            errors.summary("Hoist.toml", text),
            "unknown key `prot` in `[service]` (Hoist.toml:7:1); no environments"
        );
    }

    #[test]
    fn counts_columns_in_chars_and_clips_carets_to_the_line() {
        let text = "a = \"é\"\nb = [1,\n  2]\n";
        let start = position(text, "[");
        let errors = SpecErrors(vec![
            diagnostic("first", None, Some(start..text.len())),
            diagnostic("second", Some("no place"), None),
        ]);
        let rendered = errors.render("Hoist.toml", text);
        assert_eq!(
            rendered,
            "error: first\n\
             \x20 --> Hoist.toml:2:5\n\
             \x20  |\n\
             \x202 | b = [1,\n\
             \x20  |     ^^^\n\
             \n\
             error: second\n\
             hint: no place\n"
        );
        let after_accent = position(text, "\"") + 3;
        let accent = SpecErrors(vec![diagnostic(
            "x",
            None,
            Some(after_accent..after_accent + 1),
        )]);
        assert!(accent.render("f", text).contains("f:1:7\n"));
    }

    #[test]
    fn widens_the_gutter_for_long_line_numbers_and_marks_empty_spans() {
        let text = format!("{}x = [\n", "\n".repeat(11));
        let end = text.len();
        let errors = SpecErrors(vec![diagnostic("unclosed", None, Some(end..end))]);
        assert_eq!(
            errors.render("Hoist.toml", &text),
            "error: unclosed\n\
             \x20  --> Hoist.toml:13:1\n\
             \x20   |\n\
             \x2013 | \n\
             \x20   | ^\n"
        );
    }
}

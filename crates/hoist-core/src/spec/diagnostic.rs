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
    pub fn render(&self, path: &str, text: &str) -> String {
        let _ = (path, text);
        String::new()
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let messages: Vec<&str> = self.0.iter().map(|d| d.message.as_str()).collect();
        f.write_str(&messages.join("; "))
    }
}

impl std::error::Error for SpecErrors {}

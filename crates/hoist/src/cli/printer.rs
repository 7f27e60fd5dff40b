//! stdout: data. Each result is printed as JSON with `--json`, else as text. Errors are
//! printed in one place, `report_error`. Known secret values (`KnownSecrets::process`) are
//! masked in both.

use std::io::Write;

use serde::Serialize;

use crate::error::Error;
use crate::known_secrets::KnownSecrets;
use crate::ops::CommandOutcome;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub json: bool,
}

impl Printer {
    /// Prints `value` as pretty JSON, or the text `render` makes of it.
    pub fn print<T: Serialize>(
        &self,
        value: &T,
        render: impl FnOnce(&T) -> String,
    ) -> Result<(), Error> {
        let text = if self.json {
            serde_json::to_string_pretty(value)
                .map_err(|e| Error::internal("cannot encode the result").cause(e))?
        } else {
            render(value)
        };
        let text = KnownSecrets::process().mask(&text);
        let mut stdout = std::io::stdout().lock();
        if !text.is_empty() {
            writeln!(stdout, "{}", text.trim_end())
                .map_err(|e| Error::internal("cannot write to stdout").cause(e))?;
        }
        Ok(())
    }

    pub fn outcome(&self, outcome: &CommandOutcome) -> Result<(), Error> {
        self.print(outcome, |o| {
            let mut text = o.message.clone();
            if let (Some(url), Some(live)) = (&o.url, &o.live_release)
                && o.action.as_str() != "destroy"
            {
                text.push_str(&format!("\nlive: {live}\nurl:  {url}"));
            }
            text
        })
    }
}

/// Prints an error as `error:`, its causes, then `hint:` lines after a blank line; with
/// `--json` also as `{"error": …}` on stdout.
pub fn report_error(error: &Error, json: bool) {
    let error = &KnownSecrets::process().mask_error(error.clone());
    let mut text = format!("error: {}\n", error.message);
    for cause in &error.causes {
        // A cause that starts with a newline is a rendered block (spec diagnostics): as is.
        if let Some(block) = cause.strip_prefix('\n') {
            text.push_str(block.trim_end());
            text.push('\n');
            continue;
        }
        let mut lines = cause.lines();
        if let Some(first) = lines.next() {
            text.push_str(&format!("  caused by: {first}\n"));
        }
        for line in lines {
            text.push_str(&format!("  {line}\n"));
        }
    }
    if !error.hints.is_empty() {
        text.push('\n');
        for hint in &error.hints {
            text.push_str(&format!("hint: {hint}\n"));
        }
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
    if json && !error.answered {
        let value = serde_json::json!({
            "error": {
                "message": error.message,
                "causes": error.causes,
                "hints": error.hints,
                "exit_code": error.kind.exit_code(),
            }
        });
        let _ = writeln!(std::io::stdout().lock(), "{value:#}");
    }
}

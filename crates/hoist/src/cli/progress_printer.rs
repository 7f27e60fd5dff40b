//! `[n/N] step … ✓ 1.2s` on stderr. Notes printed while a step runs go on their own
//! indented lines; the step's line is then repeated with its result. Known secret values
//! are masked in everything it writes.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use crate::known_secrets::KnownSecrets;
use crate::ports::Progress;

#[derive(Debug)]
pub struct ProgressPrinter {
    quiet: bool,
    color: bool,
    /// The label of a step whose line is still open (no newline yet).
    open: Mutex<Option<String>>,
    known_secrets: KnownSecrets,
}

impl ProgressPrinter {
    pub fn new(quiet: bool, known_secrets: KnownSecrets) -> Self {
        let color = !no_color() && std::io::stderr().is_terminal();
        Self {
            quiet,
            color,
            open: Mutex::new(None),
            known_secrets,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn write(&self, text: &str) {
        let text = self.known_secrets.mask(text);
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(text.as_bytes());
        let _ = stderr.flush();
    }
}

impl ProgressPrinter {
    /// Ends the open step line, if any, so that other output (`exec`'s) starts on a line
    /// of its own; the step's line is repeated with its result when it ends.
    pub fn end_open_line(&self) {
        let was_open = self
            .open
            .lock()
            .map(|mut open| open.take().is_some())
            .unwrap_or(false);
        if was_open {
            self.write("\n");
        }
    }
}

impl Progress for ProgressPrinter {
    fn step_started(&self, index: usize, total: usize, label: &str) {
        if self.quiet {
            return;
        }
        let head = format!("[{index}/{total}] {label} …");
        self.write(&self.paint("1", &head));
        if let Ok(mut open) = self.open.lock() {
            *open = Some(head);
        }
    }

    fn step_finished(&self, index: usize, total: usize, label: &str, elapsed: Duration, ok: bool) {
        if self.quiet {
            return;
        }
        let mark = if ok {
            self.paint("32", "✓")
        } else {
            self.paint("31", "✗")
        };
        let tail = format!(" {mark} {:.1}s\n", elapsed.as_secs_f64());
        let still_open = self
            .open
            .lock()
            .map(|mut open| open.take().is_some())
            .unwrap_or(false);
        if still_open {
            self.write(&tail);
        } else {
            self.write(&format!(
                "{}{tail}",
                self.paint("1", &format!("[{index}/{total}] {label} …"))
            ));
        }
    }

    fn note(&self, message: &str) {
        if self.quiet {
            return;
        }
        let was_open = self
            .open
            .lock()
            .map(|mut open| open.take().is_some())
            .unwrap_or(false);
        let lead = if was_open { "\n" } else { "" };
        let body: Vec<String> = message
            .lines()
            .map(|line| format!("      {line}"))
            .collect();
        self.write(&format!("{lead}{}\n", self.paint("2", &body.join("\n"))));
    }
}

/// `NO_COLOR` set to anything non-empty turns colour off.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

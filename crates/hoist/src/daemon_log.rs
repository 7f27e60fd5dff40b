//! What the daemon (`hoist serve`: the server, the scheduler, the reconciler, the webhook
//! sender) says goes to stderr through `tracing`: one human line per event by default, or one
//! JSON object per line (`--log-format json`) for a log collector. Known secret values are
//! masked in every line, whatever the format.

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

use crate::error::{Error, Result};
use crate::known_secrets::KnownSecrets;
use crate::ports::progress::Progress;

/// How each event is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-12-05T10:00:00.000000Z  INFO hoist serve: listening on …`
    #[default]
    Human,
    /// `{"timestamp":"…","level":"INFO","fields":{"message":"…"}}`
    Json,
}

/// Installs the daemon's subscriber for the whole process; a second call fails.
pub fn init(format: LogFormat) -> Result<()> {
    let builder = tracing_subscriber::fmt()
        .with_writer(MaskedStderr)
        .with_target(false)
        .with_ansi(false);
    let installed = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|error| Error::internal("cannot start the daemon's log").cause(error))
}

/// Hands each event a buffer of its own, written to stderr in one piece once masked.
struct MaskedStderr;

impl<'a> MakeWriter<'a> for MaskedStderr {
    type Writer = MaskedLine;

    fn make_writer(&'a self) -> Self::Writer {
        MaskedLine(Vec::new())
    }
}

struct MaskedLine(Vec<u8>);

impl Write for MaskedLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for MaskedLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let masked = KnownSecrets::process().mask(&text);
        // A log line that cannot be written (stderr closed) is dropped; the daemon goes on.
        let _ = std::io::stderr().lock().write_all(masked.as_bytes());
    }
}

/// The progress of commands the daemon runs (through the API), as log events.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogProgress;

impl Progress for LogProgress {
    fn step_started(&self, index: usize, total: usize, label: &str) {
        tracing::info!("[{index}/{total}] {label} …");
    }

    fn step_finished(
        &self,
        index: usize,
        total: usize,
        label: &str,
        elapsed: std::time::Duration,
        ok: bool,
    ) {
        let mark = if ok { "✓" } else { "✗" };
        tracing::info!(
            "[{index}/{total}] {label} … {mark} {:.1}s",
            elapsed.as_secs_f64()
        );
    }

    fn note(&self, message: &str) {
        tracing::info!("{message}");
    }
}

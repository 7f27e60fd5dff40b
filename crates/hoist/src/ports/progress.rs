//! How ops report progress without printing: the CLI renders `[n/N] step … ✓ 1.2s` on
//! stderr, the server turns the same calls into events.

use std::time::Duration;

pub trait Progress: Send + Sync {
    /// Step `index` (1-based) of `total` started.
    fn step_started(&self, index: usize, total: usize, label: &str);
    /// Step `index` of `total` ended, successfully or not.
    fn step_finished(&self, index: usize, total: usize, label: &str, elapsed: Duration, ok: bool);
    /// A line of information that belongs to the current step.
    fn note(&self, message: &str);
}

/// Progress that goes nowhere (JSON mode, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct SilentProgress;

impl Progress for SilentProgress {
    fn step_started(&self, _index: usize, _total: usize, _label: &str) {}
    fn step_finished(
        &self,
        _index: usize,
        _total: usize,
        _label: &str,
        _elapsed: Duration,
        _ok: bool,
    ) {
    }
    fn note(&self, _message: &str) {}
}

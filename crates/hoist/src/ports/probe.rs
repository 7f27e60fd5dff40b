//! Readiness probes: is the instance on a port answering as the spec expects?

use std::time::Duration;

use hoist_core::ReleaseId;
use hoist_core::spec::Health;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub healthy: bool,
    pub attempts: u32,
    /// The last answers (`200 OK`, `connection refused`, …), oldest first, at most five.
    pub last_answers: Vec<String>,
    pub elapsed: Duration,
}

pub trait Probe: Send + Sync {
    /// Waits `health.initial_delay`, then probes the instance of `release` on `port` until
    /// `health.successes` consecutive successes, or until `health.deadline` passes. A
    /// command check runs in `release`'s directory on the host.
    fn wait_healthy(&self, port: u16, health: &Health, release: &ReleaseId) -> ProbeReport;
    /// One try, no initial delay, for `check`.
    fn probe_once(&self, port: u16, health: &Health, release: &ReleaseId)
    -> Result<String, String>;
}

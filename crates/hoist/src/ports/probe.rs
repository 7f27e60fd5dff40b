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
    ///
    /// `owner_group` is the process group of the instance hoist started (its recorded pid,
    /// which leads the group): an http or tcp answer counts only when the listener on the
    /// port belongs to that group, and an answer from anyone else ends the wait at once,
    /// unhealthy, naming who answered. `None` checks no ownership.
    fn wait_healthy(
        &self,
        port: u16,
        health: &Health,
        release: &ReleaseId,
        owner_group: Option<u32>,
    ) -> ProbeReport;
    /// One try, no initial delay, for `check`; `owner_group` as for `wait_healthy`.
    fn probe_once(
        &self,
        port: u16,
        health: &Health,
        release: &ReleaseId,
        owner_group: Option<u32>,
    ) -> Result<String, String>;
}

//! A runtime starts and stops the service's instance on a host.

use std::time::Duration;

use hoist_core::ReleaseId;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// What to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    pub release: ReleaseId,
    /// Shell command, run with `sh -c` in the release directory.
    pub command: String,
    pub port: u16,
    /// Extra variables (non-secret). The host's `config/env` (vars and secrets, written by
    /// configure) is read on the host and added too, so secrets never travel at run time.
    pub env: Vec<(String, String)>,
}

/// A started instance, as recorded in `run/instance.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub release: ReleaseId,
    pub pid: u32,
    /// The process's start time in clock ticks since boot (`/proc/PID/stat` field 22): with
    /// the pid, the identity that keeps a reused pid from being signalled.
    pub start_ticks: u64,
    pub port: u16,
    /// RFC 3339.
    pub started_at: String,
    /// Log file path on the host.
    pub log: String,
}

/// The recorded instance and whether that very process is still alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceState {
    pub instance: Instance,
    pub alive: bool,
}

pub trait Runtime: Send + Sync {
    /// Starts the instance detached, in its own process group, logging to `logs/`, and records
    /// it. Refuses if a recorded instance is still alive.
    fn start(&self, spec: &InstanceSpec) -> Result<Instance>;
    /// Stops the recorded instance (SIGTERM to its group, `grace`, then SIGKILL) and forgets
    /// it. Returns what was stopped, or `None` if nothing was recorded or it was already dead.
    fn stop(&self, grace: Duration) -> Result<Option<Instance>>;
    /// The recorded instance, if any.
    fn current(&self) -> Result<Option<InstanceState>>;
    /// The last `lines` lines of the log of the instance of `release`.
    fn log_tail(&self, release: &ReleaseId, lines: usize) -> Result<String>;
}

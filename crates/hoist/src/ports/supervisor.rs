//! The supervisor of a host: one process per deploy root (the same hoist binary) that keeps
//! the instances handed to it running — restarts one that exits or fails its liveness probe,
//! with backoff, until a crash loop — plus the boot entry that starts it all after a reboot,
//! and the journal of what it did, which the controller moves into the store's timeline.

use hoist_core::ReleaseId;
use hoist_core::spec::{Health, Service};
use hoist_core::supervision::{Liveness, RestartPolicy};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ports::runtime::Slot;

/// How the supervisor treats one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisionPolicy {
    pub restart: RestartPolicy,
    /// Probed while it runs; `None`: only exits count.
    pub liveness: Option<LivenessProbe>,
    /// SIGTERM, then this long, then SIGKILL, when liveness fails.
    pub stop_grace: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LivenessProbe {
    pub health: Health,
    pub every: Liveness,
}

impl SupervisionPolicy {
    pub fn for_service(service: &Service) -> Self {
        let liveness = service
            .health
            .as_ref()
            .filter(|_| !service.liveness.interval.is_zero())
            .map(|health| LivenessProbe {
                health: health.clone(),
                every: service.liveness,
            });
        Self {
            restart: service.restart,
            liveness,
            stop_grace: service.stop_grace,
        }
    }
}

/// What `ensure_supervisor` (or `supervise`) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupervisorStart {
    Running,
    Started,
    /// A recorded supervisor had died (or ran an older binary) and was started again.
    Restarted,
}

/// The supervisor's process on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SupervisorState {
    pub pid: u32,
    pub alive: bool,
    /// RFC 3339.
    pub started_at: String,
}

/// How a host starts its deploy roots after a reboot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BootEntryKind {
    /// A systemd unit (systemd is PID 1).
    Systemd,
    /// An `@reboot` line in the user's crontab.
    Crontab,
    /// Neither is available on the host.
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BootEntry {
    pub kind: BootEntryKind,
    pub installed: bool,
    /// Where it is (unit path, `crontab of USER`) or why there is none.
    pub detail: String,
}

/// One line of the host's journal: something the supervisor did or saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEvent {
    /// Increasing per root.
    pub seq: u64,
    /// RFC 3339.
    pub at: String,
    /// `instance.exited`, `instance.restarted`, `instance.crash_loop`, `instance.unhealthy`,
    /// `supervisor.started`, `boot`, `boot.failed`.
    pub kind: String,
    pub slot: Option<Slot>,
    pub release: Option<ReleaseId>,
    pub pid: Option<u32>,
    pub message: String,
}

pub trait Supervisor: Send + Sync {
    /// Hands the slot's running instance to the supervisor, with `policy`, and makes sure the
    /// supervisor runs. Resets its restart count and crash-loop state.
    fn supervise(&self, slot: Slot, policy: &SupervisionPolicy) -> Result<SupervisorStart>;
    /// Starts the supervisor unless it runs (on the current binary).
    fn ensure_supervisor(&self) -> Result<SupervisorStart>;
    /// The recorded supervisor, if one was ever started.
    fn supervisor_state(&self) -> Result<Option<SupervisorState>>;
    /// Stops the supervisor (instances keep running); true if one ran.
    fn stop_supervisor(&self) -> Result<bool>;
    /// Whether the boot entry is there.
    fn boot_entry(&self) -> Result<BootEntry>;
    /// Installs (or rewrites) the boot entry; idempotent.
    fn install_boot_entry(&self) -> Result<BootEntry>;
    /// Removes the boot entry; true if there was one.
    fn remove_boot_entry(&self) -> Result<bool>;
    /// The journal's events not acknowledged yet, oldest first.
    fn host_events(&self) -> Result<Vec<HostEvent>>;
    /// Drops the journal's events up to `seq`, once they are in the store.
    fn ack_host_events(&self, seq: u64) -> Result<()>;
}

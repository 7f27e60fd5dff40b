//! A runtime starts and stops the service's instance on a host.

use std::time::Duration;

use hoist_core::ReleaseId;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Which instance of a root: the one of `recreate`, or one of blue-green's pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    #[default]
    Single,
    Blue,
    Green,
}

impl Slot {
    pub const PAIR: [Slot; 2] = [Slot::Blue, Slot::Green];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Blue => "blue",
            Self::Green => "green",
        }
    }

    /// The other slot of the blue-green pair (`Single` has none and stays itself).
    pub fn other(self) -> Slot {
        match self {
            Self::Blue => Self::Green,
            Self::Green => Self::Blue,
            Self::Single => Self::Single,
        }
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Slot {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        match text {
            "single" => Ok(Self::Single),
            "blue" => Ok(Self::Blue),
            "green" => Ok(Self::Green),
            other => Err(format!("`{other}` is not a slot (single, blue, green)")),
        }
    }
}

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
    /// Where the service log is rotated.
    pub log: LogLimits,
    /// Set when the instance is a container: the monitor runs the engine instead of
    /// `sh -c command`.
    pub container: Option<ContainerLaunch>,
    /// Set when the instance is a compose stack.
    pub compose: Option<ComposeLaunch>,
}

/// How a compose stack runs: `up` in the foreground under the monitor, the project named
/// for the environment (sanitized, never a flag), its variables in the engine's environment
/// for the file's `${PORT}`-style interpolation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComposeLaunch {
    #[serde(default)]
    pub engine: Option<String>,
    /// Relative to the release directory.
    pub file: String,
    pub project: String,
}

/// How a container instance runs: what the monitor turns into the engine's `run` arguments.
/// Every value was validated by the spec (nothing here can read as an engine flag); the
/// engine gets each as `--option=value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerLaunch {
    /// `podman` or `docker`; none: whichever the host has, podman first.
    #[serde(default)]
    pub engine: Option<String>,
    pub image: String,
    /// Where the app listens inside; `127.0.0.1:<port>` on the host forwards there.
    pub container_port: u16,
    /// Replaces the image's command (argv).
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub volumes: Vec<ContainerVolume>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub memory: Option<u64>,
    #[serde(default)]
    pub millicpus: Option<u32>,
}

/// A volume as the host mounts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerVolume {
    /// A named volume (already prefixed with the environment's engine name), or a path under
    /// the deploy root's `shared/` when `shared` is set.
    pub source: String,
    #[serde(default)]
    pub shared: bool,
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
}

/// The service log's size cap: at `max_bytes` the file is rotated, `keep` old files stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLimits {
    pub max_bytes: u64,
    pub keep: u32,
}

impl Default for LogLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            keep: 3,
        }
    }
}

/// A started instance, as recorded in `run/instance.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct InstanceState {
    pub instance: Instance,
    pub alive: bool,
    /// What the host's supervisor does with it; `None` until it was handed over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervision: Option<SupervisionReport>,
    /// A compose stack's services, as its engine lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<StackService>,
}

/// One service of a running compose stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackService {
    pub service: String,
    pub container: String,
    /// The engine's word: `running`, `exited`, …
    pub state: String,
}

/// A supervised instance's history, as the host records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SupervisionReport {
    pub status: SupervisedStatus,
    /// Restarts by the supervisor since the instance was handed over.
    pub restarts: u32,
    pub last_exit: Option<ExitReport>,
    /// RFC 3339: when the supervisor starts it again (status `restarting`).
    pub next_restart_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SupervisedStatus {
    Running,
    /// Exited; waiting out its backoff.
    Restarting,
    /// Exited too often: not restarted until a deploy or `hoist restart`.
    CrashLooping,
}

impl SupervisedStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Restarting => "restarting",
            Self::CrashLooping => "crash-looping",
        }
    }
}

/// How an instance ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ExitReport {
    /// RFC 3339.
    pub at: String,
    /// `exit code 1`, `killed by SIGKILL`, `unknown` (it died while nothing watched).
    pub status: String,
}

/// A process that carries a root's instance mark but that no slot record names: left by a
/// crash between its start and its record, or by a record deleted by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrayProcess {
    pub pid: u32,
    pub start_ticks: u64,
    /// The slot its mark names.
    pub slot: Slot,
    /// Its command line, for the report.
    pub command: String,
    /// Set for a container no live instance owns (its engine client is gone): its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

impl StrayProcess {
    /// `pid 123`, or `container hoist-…-green`, for messages.
    pub fn what(&self) -> String {
        match &self.container {
            Some(name) => format!("container `{name}`"),
            None => format!("pid {}", self.pid),
        }
    }
}

/// Who listens on a port an instance or proxy of this root should hold, when they do not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortHolder {
    /// `pid 123 (`cmd`), an instance of another deploy root, …`.
    pub holder: String,
    /// What to do about it.
    pub hint: String,
    /// One of this root's own instances (a stray, reported as such elsewhere).
    pub this_root: bool,
}

pub trait Runtime: Send + Sync {
    /// Starts the instance of `slot` detached, in its own process group, logging to `logs/`,
    /// and records it. Refuses if that slot's recorded instance is still alive.
    fn start(&self, slot: Slot, spec: &InstanceSpec) -> Result<Instance>;
    /// Stops the slot's recorded instance (SIGTERM to its group, `grace`, then SIGKILL) and
    /// forgets it. Returns what was stopped, or `None` if nothing was recorded or it was
    /// already dead.
    fn stop(&self, slot: Slot, grace: Duration) -> Result<Option<Instance>>;
    /// The slot's recorded instance, if any.
    fn current(&self, slot: Slot) -> Result<Option<InstanceState>>;
    /// Processes of this root no slot record owns.
    fn strays(&self) -> Result<Vec<StrayProcess>>;
    /// Who listens on `port` (any address or loopback), when anyone does.
    fn port_holder(&self, port: u16) -> Result<Option<PortHolder>>;
    /// Stops a stray's process group (SIGTERM, `grace`, SIGKILL) if it is still that process.
    fn stop_stray(&self, stray: &StrayProcess, grace: Duration) -> Result<bool>;
    /// The last `lines` lines of the log of the instance of `release`.
    fn log_tail(&self, release: &ReleaseId, lines: usize) -> Result<String>;
    /// After `refresh` hooks made the running instance serve `release` (it reloads from
    /// `live`): its record, and what the supervisor would start again, name `release`.
    fn relabel(&self, slot: Slot, release: &ReleaseId) -> Result<()>;
    /// The services of the slot's compose stack, as its engine lists them; none for any other
    /// kind of instance. Asked by `status` only: it costs an engine call.
    fn stack_services(&self, slot: Slot) -> Result<Vec<StackService>>;
}

//! An instance's record, `run/instance.json` (recreate) or `run/instance-<slot>.json`
//! (blue-green): the process's identity (pid + start time), how it was launched — so the
//! supervisor can start it again — and, once handed over, its supervision history. Written
//! with write-then-rename, changed only under the slot's lock (`run/slot-<slot>.lock`), which
//! the controller's start/stop and the supervisor's restarts both take.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hoist_core::ReleaseId;
use hoist_core::supervision::{Liveness, RestartPolicy};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hostside::atomic_fs;
use crate::hostside::wire_health::{WireHealth, millis};
use crate::ports::runtime::{
    ComposeLaunch, ContainerLaunch, ExitReport, Instance, InstanceSpec, LogLimits, Slot,
    SupervisedStatus, SupervisionReport,
};
use crate::ports::supervisor::{LivenessProbe, SupervisionPolicy};

/// How many exits a record remembers: enough for any crash-loop window.
const EXITS_KEPT: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    #[serde(flatten)]
    pub instance: Instance,
    /// How it was started (absent in records of older hoist versions: never restarted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<LaunchSpec>,
    /// Set once the controller handed it to the supervisor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervision: Option<SupervisionRecord>,
    /// Set before a stop signals it: the supervisor leaves it alone even if that stop dies.
    #[serde(default)]
    pub stopping: bool,
}

/// What the monitor runs; also what the controller sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchSpec {
    pub release: ReleaseId,
    pub command: String,
    pub port: u16,
    pub env: Vec<(String, String)>,
    #[serde(default)]
    pub log: LogLimits,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerLaunch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose: Option<ComposeLaunch>,
}

impl From<&InstanceSpec> for LaunchSpec {
    fn from(spec: &InstanceSpec) -> Self {
        Self {
            release: spec.release.clone(),
            command: spec.command.clone(),
            port: spec.port,
            env: spec.env.clone(),
            log: spec.log,
            container: spec.container.clone(),
            compose: spec.compose.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisionRecord {
    pub policy: RecordedPolicy,
    pub status: SupervisedStatus,
    pub restarts: u32,
    /// Times of recent exits, ms since the epoch, oldest first.
    pub exits_ms: Vec<u64>,
    pub last_exit: Option<ExitReport>,
    /// When the supervisor starts it again (status `restarting`), ms since the epoch.
    pub next_restart_ms: Option<u64>,
}

impl SupervisionRecord {
    pub fn new(policy: RecordedPolicy) -> Self {
        Self {
            policy,
            status: SupervisedStatus::Running,
            restarts: 0,
            exits_ms: Vec::new(),
            last_exit: None,
            next_restart_ms: None,
        }
    }

    /// Remembers an exit, keeping the newest few.
    pub fn push_exit(&mut self, at_ms: u64, report: ExitReport) {
        self.exits_ms.push(at_ms);
        let excess = self.exits_ms.len().saturating_sub(EXITS_KEPT);
        self.exits_ms.drain(..excess);
        self.last_exit = Some(report);
    }

    pub fn report(&self) -> SupervisionReport {
        SupervisionReport {
            status: self.status,
            restarts: self.restarts,
            last_exit: self.last_exit.clone(),
            next_restart_at: self.next_restart_ms.map(rfc3339_of_ms),
        }
    }
}

/// `SupervisionPolicy` as the record and the host protocol carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedPolicy {
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
    pub crash_loop: u32,
    pub window_ms: u64,
    pub liveness: Option<RecordedLiveness>,
    #[serde(default)]
    pub stop_grace_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedLiveness {
    pub health: WireHealth,
    pub interval_ms: u64,
    pub failures: u32,
}

impl From<&SupervisionPolicy> for RecordedPolicy {
    fn from(policy: &SupervisionPolicy) -> Self {
        Self {
            backoff_ms: millis(policy.restart.backoff),
            backoff_max_ms: millis(policy.restart.backoff_max),
            crash_loop: policy.restart.crash_loop,
            window_ms: millis(policy.restart.window),
            liveness: policy.liveness.as_ref().map(|probe| RecordedLiveness {
                health: WireHealth::from(&probe.health),
                interval_ms: millis(probe.every.interval),
                failures: probe.every.failures,
            }),
            stop_grace_ms: millis(policy.stop_grace),
        }
    }
}

impl RecordedPolicy {
    pub fn restart(&self) -> RestartPolicy {
        RestartPolicy {
            backoff: Duration::from_millis(self.backoff_ms),
            backoff_max: Duration::from_millis(self.backoff_max_ms),
            crash_loop: self.crash_loop,
            window: Duration::from_millis(self.window_ms),
        }
    }

    pub fn to_policy(&self) -> Result<SupervisionPolicy> {
        let liveness = match &self.liveness {
            Some(recorded) => Some(LivenessProbe {
                health: recorded.health.clone().try_into()?,
                every: Liveness {
                    interval: Duration::from_millis(recorded.interval_ms),
                    failures: recorded.failures,
                },
            }),
            None => None,
        };
        Ok(SupervisionPolicy {
            restart: self.restart(),
            liveness,
            stop_grace: Duration::from_millis(self.stop_grace_ms),
        })
    }
}

/// How the monitor saw its command end: `run/exit-<slot>.json`, written by the monitor
/// (`pid`/`start_ticks` are the monitor's, which is the instance's recorded identity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    pub pid: u32,
    pub start_ticks: u64,
    pub release: ReleaseId,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// RFC 3339.
    pub at: String,
}

impl ExitRecord {
    /// `exit code 3`, `killed by SIGKILL`.
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (_, Some(signal)) => match nix::sys::signal::Signal::try_from(signal) {
                Ok(name) => format!("killed by {name}"),
                Err(_) => format!("killed by signal {signal}"),
            },
            (Some(code), None) => format!("exit code {code}"),
            (None, None) => "unknown".to_owned(),
        }
    }
}

/// The records of one deploy root.
#[derive(Debug, Clone)]
pub struct InstanceRecords {
    root: PathBuf,
}

impl InstanceRecords {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// `instance.json` for the single instance, `instance-<slot>.json` for one of a
    /// blue-green pair, so two instances of one root can run side by side.
    pub fn record_name(slot: Slot) -> String {
        match slot {
            Slot::Single => "instance.json".to_owned(),
            slot => format!("instance-{slot}.json"),
        }
    }

    pub fn record_path(&self, slot: Slot) -> PathBuf {
        self.run_dir().join(Self::record_name(slot))
    }

    pub fn exit_path(&self, slot: Slot) -> PathBuf {
        self.run_dir().join(format!("exit-{slot}.json"))
    }

    pub fn read(&self, slot: Slot) -> Result<Option<InstanceRecord>> {
        let path = self.record_path(slot);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(Error::io("read the instance record", &path, error)),
        };
        serde_json::from_str(&text).map(Some).map_err(|error| {
            Error::internal(format!(
                "cannot parse the instance record `{}`",
                path.display()
            ))
            .cause(error)
            .hint("if no instance of this root is running, delete the file")
        })
    }

    pub fn write(&self, slot: Slot, record: &InstanceRecord) -> Result<()> {
        let run_dir = self.run_dir();
        fs::create_dir_all(&run_dir).map_err(|e| Error::io("create", &run_dir, e))?;
        atomic_fs::write_json(&self.record_path(slot), record)
    }

    /// Removes the record and its exit file.
    pub fn forget(&self, slot: Slot) -> Result<()> {
        for path in [self.record_path(slot), self.exit_path(slot)] {
            match fs::remove_file(&path) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => {
                    return Err(Error::io("remove", &path, error));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The monitor's exit file, if it belongs to the process `pid` started at `start_ticks`.
    pub fn exit_of(&self, slot: Slot, pid: u32, start_ticks: u64) -> Option<ExitRecord> {
        let bytes = fs::read(self.exit_path(slot)).ok()?;
        let exit: ExitRecord = serde_json::from_slice(&bytes).ok()?;
        (exit.pid == pid && exit.start_ticks == start_ticks).then_some(exit)
    }

    pub fn write_exit(&self, slot: Slot, exit: &ExitRecord) -> Result<()> {
        atomic_fs::write_json(&self.exit_path(slot), exit)
    }

    /// Waits for the slot's lock: held while a record changes and its process is signalled.
    pub fn lock(&self, slot: Slot) -> Result<SlotLock> {
        let file = self.lock_file(slot)?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map(SlotLock)
            .map_err(|(_, errno)| {
                Error::failed(format!("cannot lock the {slot} instance's record")).cause(errno)
            })
    }

    /// The slot's lock if nobody holds it.
    pub fn try_lock(&self, slot: Slot) -> Result<Option<SlotLock>> {
        let file = self.lock_file(slot)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Some(SlotLock(lock))),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, errno)) => {
                Err(Error::failed(format!("cannot lock the {slot} instance's record")).cause(errno))
            }
        }
    }

    fn lock_file(&self, slot: Slot) -> Result<File> {
        let run_dir = self.run_dir();
        fs::create_dir_all(&run_dir).map_err(|e| Error::io("create", &run_dir, e))?;
        let path = run_dir.join(format!("slot-{slot}.lock"));
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))
    }
}

/// Held while a slot's record changes; released on drop (or when its holder dies).
#[derive(Debug)]
pub struct SlotLock(#[expect(dead_code, reason = "held for its drop")] Flock<File>);

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0)
}

pub fn rfc3339_of_ms(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(String::new, |at| at.to_string())
}

/// A path's directory must exist for its lock and record.
pub fn ensure_dir(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| Error::io("create", path, e))
}

//! The protocol a controller speaks with a remote host: one JSON `HostRequest` on the stdin
//! of `hoist host --root ROOT call`, one `HostResponse` on its stdout. Every port method a
//! remote host needs (`Host`, `Runtime`, `Probe`, the two upload phases, `version`) is one
//! request, run here by the very code `local:` hosts use, so one exec does one whole
//! operation.
//!
//! Secrets (config file contents) travel in requests, on stdin only: never in argv, never
//! logged, and never in a debug print of a request.

mod dispatch;
mod response;
mod wire;

#[cfg(test)]
mod tests;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use hoist_core::ReleaseId;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hostside::instance_record::RecordedPolicy;
use crate::ports::router::RouteConfig;
use crate::ports::runtime::{Slot, StrayProcess};
use crate::source_tree::SourceEntry;

pub use dispatch::dispatch;
pub use response::{HostResponse, WireError, WireErrorKind};
pub use wire::{
    HostVersion, WireBytes, WireConfigFile, WireExecDir, WireExecOutput, WireHealth,
    WireHealthCheck, WireInstanceSpec, WireLockOutcome, WireNewRelease, WireProbeAnswer,
    WireReleases, millis,
};

/// One operation on the host, named by `op`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum HostRequest {
    /// → `HostVersion`.
    Version,
    /// → `HostFacts`.
    Provision {
        /// Accept a root that holds files hoist did not put there (`--adopt`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        adopt: bool,
    },
    /// → `WireLockOutcome`.
    Lock {
        holder: crate::ports::host::LockHolder,
        /// As for `Provision`: the lock is the first contact, so it claims the root.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        adopt: bool,
    },
    Unlock {
        holder: crate::ports::host::LockHolder,
    },
    WriteConfig {
        files: Vec<WireConfigFile>,
    },
    /// → `WireReleases`.
    Releases,
    /// Phase one of an upload → the relative paths of the files still needed.
    PrepareUpload {
        release: WireNewRelease,
        entries: Vec<SourceEntry>,
    },
    /// Phase two, once the needed files are in place → `UploadReport`.
    FinishUpload {
        release: WireNewRelease,
        entries: Vec<SourceEntry>,
    },
    /// → `WireExecOutput`.
    Exec {
        dir: WireExecDir,
        command: String,
        env: Vec<(String, String)>,
    },
    MarkReady {
        id: ReleaseId,
    },
    MarkFailed {
        id: ReleaseId,
        reason: String,
    },
    /// → the releases it failed.
    DiscardIncomplete,
    SwitchLive {
        id: ReleaseId,
    },
    RemoveRelease {
        id: ReleaseId,
    },
    /// → the releases it removed.
    Prune {
        keep: usize,
    },
    Audit {
        line: serde_json::Value,
    },
    Destroy,
    /// → the loopback port of the root's image registry (started if needed).
    ImageRegistry,
    /// Pulls `image` from its registry into the host's engine.
    PullImage {
        image: String,
        #[serde(default)]
        engine: Option<String>,
    },
    /// → the volumes removed.
    RemoveVolumes {
        project: String,
        #[serde(default)]
        engine: Option<String>,
    },
    /// → the images removed.
    RemoveImages {
        images: Vec<String>,
        #[serde(default)]
        engine: Option<String>,
    },
    /// Pulls `hoist/<app>/<env>:<release>` from the root's registry into the engine.
    ImagePull {
        name: String,
        #[serde(default)]
        engine: Option<String>,
    },
    /// → `Instance`.
    RuntimeStart {
        spec: WireInstanceSpec,
        #[serde(default)]
        slot: Slot,
    },
    /// → `Option<Instance>`.
    RuntimeStop {
        grace_ms: u64,
        #[serde(default)]
        slot: Slot,
    },
    /// → `Option<InstanceState>`.
    RuntimeCurrent {
        #[serde(default)]
        slot: Slot,
    },
    /// → `Vec<StrayProcess>`.
    RuntimeStrays,
    /// → `Option<PortHolder>`.
    RuntimePortHolder {
        port: u16,
    },
    /// → whether it was signalled.
    RuntimeStopStray {
        stray: StrayProcess,
        grace_ms: u64,
    },
    /// → `ProxyStart`.
    RouterEnsure {
        config: RouteConfig,
    },
    /// → `RouteState`.
    RouterRoute {
        config: RouteConfig,
    },
    RouterSetUpstream {
        config: RouteConfig,
        port: u16,
    },
    RouterSetStatic {
        config: RouteConfig,
        /// Relative to the live release.
        site: PathBuf,
    },
    /// → requests still in flight.
    RouterDrain {
        config: RouteConfig,
        port: u16,
        limit_ms: u64,
    },
    RouterMaintenance {
        config: RouteConfig,
        on: bool,
    },
    /// → a free loopback port.
    RouterFreePort,
    /// → whether a proxy was running.
    RouterStopProxy,
    /// → the log's tail.
    RuntimeLogTail {
        release: ReleaseId,
        lines: usize,
    },
    /// → `ProbeReport`.
    ProbeWaitHealthy {
        port: u16,
        health: WireHealth,
        /// Whose directory a command check runs in.
        release: ReleaseId,
        /// The instance's process group: only its listener's answer counts. Absent from
        /// older controllers' requests (no ownership checked).
        #[serde(default)]
        owner_group: Option<u32>,
    },
    /// → `WireProbeAnswer`.
    ProbeOnce {
        port: u16,
        health: WireHealth,
        release: ReleaseId,
        #[serde(default)]
        owner_group: Option<u32>,
    },
    /// → `SupervisorStart`.
    Supervise {
        slot: Slot,
        policy: RecordedPolicy,
    },
    /// → `SupervisorStart`.
    SupervisorEnsure,
    /// → `Option<SupervisorState>`.
    SupervisorState,
    /// → whether one ran.
    SupervisorStop,
    /// → `BootEntry`.
    BootEntryState,
    /// → `BootEntry`.
    BootEntryInstall,
    /// → whether there was one.
    BootEntryRemove,
    /// → `Vec<HostEvent>`.
    HostEvents,
    AckHostEvents {
        seq: u64,
    },
    RuntimeRelabel {
        slot: Slot,
        release: ReleaseId,
    },
    /// → `Vec<StackService>`.
    RuntimeStackServices {
        slot: Slot,
    },
    /// → `LogPage`: lines of the service logs.
    ServiceLogs {
        query: crate::ports::service_logs::LogQuery,
    },
    /// → the live release `hoist host exec` will run in; refused when there is none. Asked
    /// before the exec, so a host whose hoist predates `exec` gets this one installed.
    ExecTarget,
}

/// Every `op` of `HostRequest`, for telling an unknown op from a malformed request.
pub const OPS: [&str; 52] = [
    "version",
    "provision",
    "lock",
    "unlock",
    "write_config",
    "releases",
    "prepare_upload",
    "finish_upload",
    "exec",
    "mark_ready",
    "mark_failed",
    "discard_incomplete",
    "switch_live",
    "remove_release",
    "prune",
    "audit",
    "destroy",
    "image_registry",
    "image_pull",
    "remove_images",
    "remove_volumes",
    "pull_image",
    "runtime_start",
    "runtime_stop",
    "runtime_current",
    "runtime_strays",
    "runtime_stop_stray",
    "router_ensure",
    "router_route",
    "router_set_upstream",
    "router_set_static",
    "router_drain",
    "router_maintenance",
    "router_free_port",
    "router_stop_proxy",
    "runtime_log_tail",
    "probe_wait_healthy",
    "probe_once",
    "supervise",
    "supervisor_ensure",
    "supervisor_state",
    "supervisor_stop",
    "boot_entry_state",
    "boot_entry_install",
    "boot_entry_remove",
    "host_events",
    "ack_host_events",
    "runtime_relabel",
    "runtime_stack_services",
    "runtime_port_holder",
    "service_logs",
    "exec_target",
];

/// Reads a request from `input` and runs it; a request that does not parse (bad JSON, an
/// unknown op) is a `failed` response, never a panic.
pub fn handle(root: &Path, input: &[u8]) -> HostResponse {
    match parse(input) {
        Ok(request) => dispatch(root, request),
        Err(error) => HostResponse::from_result::<()>(Err(error)),
    }
}

/// Parses a request. The errors never quote the input: it may hold secrets.
fn parse(input: &[u8]) -> Result<HostRequest> {
    // A well-formed request in one pass (an upload's manifest is thousands of entries); the
    // two passes below only find the words for what is wrong with one that is not.
    if let Ok(request) = serde_json::from_slice(input) {
        return Ok(request);
    }
    let refuse = |why: String| {
        Error::failed("cannot read the request to `hoist host call`")
            .cause(why)
            .hint("the controller and this host may run different hoist versions: `hoist provision ENV` installs the controller's")
    };
    let value: serde_json::Value = serde_json::from_slice(input).map_err(|error| {
        refuse(format!(
            "it is not JSON (line {}, column {})",
            error.line(),
            error.column()
        ))
    })?;
    let op = value
        .get("op")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    match op {
        None => Err(refuse("it names no `op`".to_owned())),
        Some(op) if !OPS.contains(&op.as_str()) => Err(refuse(format!("unknown op `{op}`"))),
        Some(op) => serde_json::from_value(value).map_err(|_| {
            refuse(format!(
                "the `{op}` request does not have the expected fields"
            ))
        }),
    }
}

/// This binary's version, platform and hash (the running image's, hashed once per process).
pub fn version() -> HostVersion {
    static OWN_HASH: OnceLock<Option<String>> = OnceLock::new();
    let binary_hash = OWN_HASH.get_or_init(|| {
        std::env::current_exe()
            .ok()
            .and_then(|path| hash_file(&path).ok())
    });
    version_with(binary_hash.clone())
}

fn version_with(binary_hash: Option<String>) -> HostVersion {
    HostVersion {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
        os: std::env::consts::OS.to_owned(),
        binary_hash,
    }
}

/// The version of the hoist installed at `<root>/.hoist/bin/hoist`, as files on disk say:
/// after `provision` replaced it, a session still running the old program must report the new
/// file (its own `/proc/self/exe` would name the deleted one).
fn installed_version(root: &Path) -> HostVersion {
    match remembered_hash(&installed_binary(root)) {
        Some(hash) => version_with(Some(hash)),
        None => version(),
    }
}

/// The hash of the file at `path`, remembered by its identity (device, inode, size, change
/// time): a session asked again and again reads an 18 MB binary once, yet a file written
/// over since is hashed again.
fn remembered_hash(path: &Path) -> Option<String> {
    static SEEN: Mutex<Option<(FileIdentity, String)>> = Mutex::new(None);
    let identity = FileIdentity::of(path)?;
    let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((known, hash)) = seen.as_ref()
        && *known == identity
    {
        return Some(hash.clone());
    }
    let hash = hash_file(path).ok()?;
    // Written while it was read: not remembered.
    if FileIdentity::of(path) == Some(identity.clone()) {
        *seen = Some((identity, hash.clone()));
    }
    Some(hash)
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileIdentity {
    device: u64,
    inode: u64,
    size: u64,
    changed: (i64, i64),
    modified: (i64, i64),
}

impl FileIdentity {
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(path).ok()?;
        Some(Self {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
        })
    }
}

/// blake3 (hex) of a file, read streaming.
pub fn hash_file(path: &Path) -> Result<String> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut hasher = blake3::Hasher::new();
    hasher
        .update_reader(file)
        .map_err(|e| Error::io("read", path, e))?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// The argv that runs `hoist host --root ROOT <command…>` with the binary at `binary`.
pub fn host_argv(binary: &Path, root: &Path, command: &[&str]) -> Result<Vec<String>> {
    let text = |path: &Path| {
        path.to_str().map(str::to_owned).ok_or_else(|| {
            Error::failed(format!("the path `{}` is not UTF-8", path.display()))
                .hint("use a deploy root whose path is plain UTF-8")
        })
    };
    let mut argv = vec![
        text(binary)?,
        "host".to_owned(),
        "--root".to_owned(),
        text(root)?,
    ];
    argv.extend(command.iter().map(|part| (*part).to_owned()));
    Ok(argv)
}

/// Where the hoist binary lives on a host: `<root>/.hoist/bin/hoist`.
pub fn installed_binary(root: &Path) -> PathBuf {
    root.join(".hoist").join("bin").join("hoist")
}

/// The blake3 of the binary installed in `root`, as its install wrote it: what a session
/// compares with the controller's before it serves on that binary.
pub fn installed_hash_marker(root: &Path) -> PathBuf {
    root.join(".hoist").join("bin").join("hoist.hash")
}

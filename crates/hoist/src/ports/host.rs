//! A host: the on-host operations of one deploy root. Each method is one whole operation
//! (for a remote host: one request line to its `hoist host serve` session, which lasts the
//! whole command), atomic where the layout demands it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hoist_core::release_chain::ReleaseChain;
use hoist_core::{EnvName, HostAddress, ReleaseId, ReleaseStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ports::service_logs::{ExecStream, LogPage, LogQuery};
use crate::source_tree::SourceTree;

/// What `provision` found on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    pub os: String,
    pub arch: String,
    /// Tool name → path where found (`None`: missing). rsync, sh, systemctl, nginx.
    pub tools: BTreeMap<String, Option<String>>,
}

/// Who holds an environment: written into the host's lock file and the store's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LockHolder {
    /// `user@machine`.
    pub owner: String,
    pub pid: u32,
    /// The machine the holder runs on, to know whether its pid can be checked here.
    pub machine: String,
    /// RFC 3339.
    pub started_at: String,
    /// What it is doing, e.g. `hoist deploy prod`.
    pub message: String,
    pub command_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
    Acquired,
    /// The previous holder was dead; its lock was taken over.
    Reclaimed {
        stale: LockHolder,
    },
    /// Someone alive holds it.
    Held {
        holder: LockHolder,
    },
}

/// A rendered file for the host's `config/` directory (written 0600, directory 0700).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// A plain file name, no directories.
    pub name: String,
    pub contents: Vec<u8>,
}

/// Everything `release.json` records about a release besides its status and links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseInfo {
    pub id: ReleaseId,
    pub status: ReleaseStatus,
    /// blake3 of the source tree (hex).
    pub content_hash: String,
    /// blake3 of the config snapshot (hex): a config change alone makes a new release.
    pub config_hash: String,
    /// RFC 3339.
    pub created_at: String,
    pub created_by: String,
    pub source_rev: Option<String>,
    /// Non-secret configuration the release was made with (vars, secret *names*, service).
    pub config_snapshot: serde_json::Value,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Whether `meta/<id>/config/` holds the configuration it was made ready with (what
    /// switching `live` to it restores into `config/`). Read from the layout, not stored.
    #[serde(default)]
    pub config_kept: bool,
}

/// A release to create with `Host::upload`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRelease {
    pub info: ReleaseInfo,
    /// Directories of `shared/` to link into the release, relative.
    pub shared_dirs: Vec<PathBuf>,
}

/// What an upload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UploadReport {
    pub files: u64,
    /// Unchanged files hard-linked to the live release.
    pub linked: u64,
    /// Changed or new files written.
    pub written: u64,
    pub bytes_written: u64,
}

/// The releases on a host, read from its layout.
#[derive(Debug, Clone, PartialEq)]
pub struct HostReleases {
    pub chain: ReleaseChain,
    pub infos: BTreeMap<ReleaseId, ReleaseInfo>,
    pub live: Option<ReleaseId>,
}

/// Where `Host::exec` runs a shell command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecDir {
    Release(ReleaseId),
    Root,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit code; -1 when killed by a signal.
    pub status: i32,
    /// Combined stdout and stderr, the last 64 KiB.
    pub output: String,
}

pub trait Host: Send + Sync {
    fn address(&self) -> &HostAddress;

    /// Creates the layout (`releases/ meta/ shared/ config/ run/ logs/ .hoist/`) if missing and
    /// reports the host's tools. Idempotent. Claims the root first, like `lock`.
    fn provision(&self, adopt: bool) -> Result<HostFacts>;

    /// Takes the host's lock file for `holder`, reclaiming it when its holder is dead. The
    /// lock is every command's first contact with a host, so it claims the deploy root
    /// first (`hostside::root_mark`): a missing or empty root becomes hoist's, a root with
    /// files hoist did not put there is refused — unless `adopt`, which accepts it knowingly.
    fn lock(&self, holder: &LockHolder, adopt: bool) -> Result<LockOutcome>;
    /// Drops the lock if `holder` holds it.
    fn unlock(&self, holder: &LockHolder) -> Result<()>;

    /// Replaces the files of `config/` with `files` (each written then renamed, 0600).
    fn write_config(&self, files: &[ConfigFile]) -> Result<()>;

    /// Reads the releases and `live`.
    fn releases(&self) -> Result<HostReleases>;

    /// Creates `releases/<id>` from `source`: unchanged files hard-linked to `live`, changed
    /// ones written as new files; links shared dirs; leaves it `Uploading`.
    fn upload(&self, release: &NewRelease, source: &SourceTree) -> Result<UploadReport>;

    /// Runs a shell command (`sh -c`) on the host with extra environment variables.
    fn exec(&self, dir: &ExecDir, command: &str, env: &[(String, String)]) -> Result<ExecOutput>;

    /// Marks an uploaded release complete and links it at the end of the chain.
    fn mark_ready(&self, id: &ReleaseId) -> Result<()>;
    /// Marks a release failed and unlinks it from the chain; if it is live, refuses.
    fn mark_failed(&self, id: &ReleaseId, reason: &str) -> Result<()>;
    /// Marks every `Uploading` release failed (a cut-off upload); returns them.
    fn discard_incomplete(&self) -> Result<Vec<ReleaseId>>;

    /// Points `live` at a ready release atomically (temp symlink + rename); the old live
    /// becomes `Retired`. First restores the release's own configuration into `config/`.
    fn switch_live(&self, id: &ReleaseId) -> Result<()>;

    /// Deletes a release that is not live, relinking the chain.
    fn remove_release(&self, id: &ReleaseId) -> Result<()>;
    /// Removes failed releases and all but the newest `keep` kept ones, never `live` or the
    /// release before it; returns what was removed.
    fn prune(&self, keep: usize) -> Result<Vec<ReleaseId>>;

    /// Appends one JSON line to `.hoist/audit.log`.
    fn audit(&self, line: &serde_json::Value) -> Result<()>;

    /// Deletes what hoist created in the deploy root (after instances were stopped): its
    /// layout, and the root itself only if hoist created it; never what was there before.
    /// Makes `image` present in the host's engine before the release is ready. One hoist built
    /// (`localhost/hoist/<app>/<env>:<release>`, in the controller's engine) travels from here,
    /// only the layers the host lacks (a `local:` host shares the controller's engine: nothing
    /// to do); any other is pulled by the host from its registry.
    fn receive_image(&self, image: &str, engine: Option<&str>) -> Result<()>;
    /// Untags `images` in the host's engine (their releases were pruned or destroyed); an
    /// image a container still uses, or one already gone, is left alone. Returns the removed.
    fn remove_images(&self, images: &[String], engine: Option<&str>) -> Result<Vec<String>>;
    /// Removes the environment's volumes: those of its compose project `project`, and its
    /// containers' named volumes (`<project>.<name>`). Returns their names.
    fn remove_volumes(&self, project: &str, engine: Option<&str>) -> Result<Vec<String>>;
    fn destroy(&self) -> Result<()>;

    /// Once this command lets go of the host, its connection closes for good rather than
    /// staying up for the next command (after `destroy`).
    fn close_connection_when_done(&self) {}

    /// Lines of the service logs (`logs/*.log` and their rotated files, not the proxy's),
    /// as `query` asks.
    fn service_logs(&self, query: &LogQuery) -> Result<LogPage>;

    /// Runs `command` (a program and its arguments, no shell) in the live release with the
    /// environment an instance gets (PATH, HOME, LANG, `config/env`, `HOIST_ENV=env`,
    /// `HOIST_RELEASE`), handing its output to `output` as it comes. Returns its exit status
    /// (128 + N when killed by signal N); an error when it could not be run at all.
    fn exec_live(
        &self,
        env: &EnvName,
        command: &[String],
        output: &mut dyn FnMut(ExecStream, &[u8]),
    ) -> Result<i32>;
}

//! The wire forms of port types that are not serializable themselves, or not in the shape
//! the protocol wants.

use std::path::PathBuf;

use hoist_core::ReleaseId;
use hoist_core::release_chain::{ReleaseChain, ReleaseMeta};
use serde::{Deserialize, Serialize};

use crate::ports::host::{
    ConfigFile, ExecDir, ExecOutput, HostReleases, LockHolder, LockOutcome, NewRelease, ReleaseInfo,
};
use crate::ports::runtime::{ComposeLaunch, ContainerLaunch, InstanceSpec, LogLimits};

pub use crate::hostside::wire_health::{WireHealth, WireHealthCheck, millis};

/// What `version` reports: enough to tell whether the host runs the same binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostVersion {
    pub version: String,
    pub arch: String,
    pub os: String,
    /// blake3 (hex) of the running binary, when it could be read.
    pub binary_hash: Option<String>,
}

/// A config file: its contents as text when they are UTF-8 (the usual case, and readable
/// when debugging), else as bytes. Secrets travel here, on stdin only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireConfigFile {
    pub name: String,
    pub contents: WireBytes,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireBytes {
    Text(String),
    Bytes(Vec<u8>),
}

impl std::fmt::Debug for WireBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Contents may be secrets: only their size in a debug print.
        let size = match self {
            Self::Text(text) => text.len(),
            Self::Bytes(bytes) => bytes.len(),
        };
        write!(f, "<{size} bytes>")
    }
}

impl std::fmt::Debug for WireConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Contents may be secrets: never in a debug print.
        f.debug_struct("WireConfigFile")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl From<&ConfigFile> for WireConfigFile {
    fn from(file: &ConfigFile) -> Self {
        let contents = match String::from_utf8(file.contents.clone()) {
            Ok(text) => WireBytes::Text(text),
            Err(error) => WireBytes::Bytes(error.into_bytes()),
        };
        Self {
            name: file.name.clone(),
            contents,
        }
    }
}

impl From<WireConfigFile> for ConfigFile {
    fn from(file: WireConfigFile) -> Self {
        let contents = match file.contents {
            WireBytes::Text(text) => text.into_bytes(),
            WireBytes::Bytes(bytes) => bytes,
        };
        Self {
            name: file.name,
            contents,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireNewRelease {
    pub info: ReleaseInfo,
    pub shared_dirs: Vec<PathBuf>,
}

impl From<&NewRelease> for WireNewRelease {
    fn from(release: &NewRelease) -> Self {
        Self {
            info: release.info.clone(),
            shared_dirs: release.shared_dirs.clone(),
        }
    }
}

impl From<WireNewRelease> for NewRelease {
    fn from(release: WireNewRelease) -> Self {
        Self {
            info: release.info,
            shared_dirs: release.shared_dirs,
        }
    }
}

/// `HostReleases` without the chain's logic: its releases and `live`, rebuilt with
/// `ReleaseChain::new` on arrival.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireReleases {
    pub releases: Vec<ReleaseMeta>,
    pub live: Option<ReleaseId>,
    pub infos: Vec<ReleaseInfo>,
}

impl From<&HostReleases> for WireReleases {
    fn from(host: &HostReleases) -> Self {
        Self {
            releases: host.chain.ordered().into_iter().cloned().collect(),
            live: host.live.clone(),
            infos: host.infos.values().cloned().collect(),
        }
    }
}

impl From<WireReleases> for HostReleases {
    fn from(wire: WireReleases) -> Self {
        Self {
            chain: ReleaseChain::new(wire.releases, wire.live.clone()),
            infos: wire
                .infos
                .into_iter()
                .map(|info| (info.id.clone(), info))
                .collect(),
            live: wire.live,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum WireLockOutcome {
    Acquired,
    Reclaimed { stale: LockHolder },
    Held { holder: LockHolder },
}

impl From<LockOutcome> for WireLockOutcome {
    fn from(outcome: LockOutcome) -> Self {
        match outcome {
            LockOutcome::Acquired => Self::Acquired,
            LockOutcome::Reclaimed { stale } => Self::Reclaimed { stale },
            LockOutcome::Held { holder } => Self::Held { holder },
        }
    }
}

impl From<WireLockOutcome> for LockOutcome {
    fn from(outcome: WireLockOutcome) -> Self {
        match outcome {
            WireLockOutcome::Acquired => Self::Acquired,
            WireLockOutcome::Reclaimed { stale } => Self::Reclaimed { stale },
            WireLockOutcome::Held { holder } => Self::Held { holder },
        }
    }
}

/// Where `exec` runs: a release's directory, or the root when `release` is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireExecDir {
    pub release: Option<ReleaseId>,
}

impl From<&ExecDir> for WireExecDir {
    fn from(dir: &ExecDir) -> Self {
        match dir {
            ExecDir::Release(id) => Self {
                release: Some(id.clone()),
            },
            ExecDir::Root => Self { release: None },
        }
    }
}

impl From<WireExecDir> for ExecDir {
    fn from(dir: WireExecDir) -> Self {
        dir.release.map_or(Self::Root, Self::Release)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireExecOutput {
    pub status: i32,
    pub output: String,
}

impl From<ExecOutput> for WireExecOutput {
    fn from(output: ExecOutput) -> Self {
        Self {
            status: output.status,
            output: output.output,
        }
    }
}

impl From<WireExecOutput> for ExecOutput {
    fn from(output: WireExecOutput) -> Self {
        Self {
            status: output.status,
            output: output.output,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireInstanceSpec {
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

impl From<&InstanceSpec> for WireInstanceSpec {
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

impl From<WireInstanceSpec> for InstanceSpec {
    fn from(spec: WireInstanceSpec) -> Self {
        Self {
            release: spec.release,
            command: spec.command,
            port: spec.port,
            env: spec.env,
            log: spec.log,
            container: spec.container,
            compose: spec.compose,
        }
    }
}

/// What `probe_once` answered: `Ok(answer)` or `Err(answer)` as a flag and the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireProbeAnswer {
    pub healthy: bool,
    pub answer: String,
}

impl From<std::result::Result<String, String>> for WireProbeAnswer {
    fn from(result: std::result::Result<String, String>) -> Self {
        match result {
            Ok(answer) => Self {
                healthy: true,
                answer,
            },
            Err(answer) => Self {
                healthy: false,
                answer,
            },
        }
    }
}

impl From<WireProbeAnswer> for std::result::Result<String, String> {
    fn from(wire: WireProbeAnswer) -> Self {
        if wire.healthy {
            Ok(wire.answer)
        } else {
            Err(wire.answer)
        }
    }
}

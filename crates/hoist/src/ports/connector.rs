//! Reaching a host: turns a `HostTarget` (an address plus how to reach it) into the host,
//! runtime and probe that act on it.

use std::path::PathBuf;
use std::time::Duration;

use hoist_core::{HostAddress, SshDestination};

use crate::error::Result;
use crate::ports::{Host, Probe, Router, Runtime, Supervisor};

/// One host of an environment, with everything needed to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTarget {
    pub address: HostAddress,
    /// The deploy root on that host.
    pub root: PathBuf,
    /// ProxyJump host, if any (the host's own, else the environment's).
    pub jump: Option<SshDestination>,
    /// An ssh_config file to use instead of `~/.ssh/config` (absolute).
    pub ssh_config: Option<PathBuf>,
    /// A private key (absolute).
    pub identity: Option<PathBuf>,
    /// The hoist binary to install on the host (absolute; default: the running one).
    pub host_binary: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// How long the host's ssh connection outlives the command, for the next to reuse
    /// (zero: it ends with the command).
    pub ssh_persist: Duration,
}

/// One connected host with the parts ops use on it.
pub struct HostHandle {
    pub host: Box<dyn Host>,
    pub runtime: Box<dyn Runtime>,
    /// What sends public traffic to a blue-green instance.
    pub router: Box<dyn Router>,
    pub probe: Box<dyn Probe>,
    /// The host's supervisor, boot entry and journal.
    pub supervisor: Box<dyn Supervisor>,
}

impl std::fmt::Debug for HostHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostHandle")
            .field("address", self.host.address())
            .finish_non_exhaustive()
    }
}

pub trait HostConnector: Send + Sync {
    fn connect(&self, target: &HostTarget) -> Result<HostHandle>;
}

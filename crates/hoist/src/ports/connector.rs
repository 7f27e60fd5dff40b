//! Reaching a host: turns a `HostAddress` into the host, runtime and probe that act on it.

use hoist_core::HostAddress;

use crate::error::Result;
use crate::ports::{Host, Probe, Runtime};

/// One connected host with the parts ops use on it.
pub struct HostHandle {
    pub host: Box<dyn Host>,
    pub runtime: Box<dyn Runtime>,
    pub probe: Box<dyn Probe>,
}

impl std::fmt::Debug for HostHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostHandle")
            .field("address", self.host.address())
            .finish_non_exhaustive()
    }
}

pub trait HostConnector: Send + Sync {
    fn connect(&self, address: &HostAddress) -> Result<HostHandle>;
}

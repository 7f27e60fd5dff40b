//! Reaching `local:` hosts: the layout on this machine, the process runtime, the HTTP probe.

use hoist_core::HostAddress;

use crate::adapters::http_probe::HttpProbe;
use crate::adapters::local_host::LocalHost;
use crate::error::Result;
use crate::hostside::process_runtime::ProcessRuntime;
use crate::ports::{HostConnector, HostHandle};

#[derive(Debug, Clone, Copy, Default)]
pub struct LocalConnector;

impl HostConnector for LocalConnector {
    fn connect(&self, address: &HostAddress) -> Result<HostHandle> {
        match address {
            HostAddress::Local { root } => Ok(HostHandle {
                host: Box::new(LocalHost::new(address.clone())),
                runtime: Box::new(ProcessRuntime::new(root.clone())),
                probe: Box::new(HttpProbe),
            }),
        }
    }
}

//! Reaching `local:` hosts: the layout on this machine, the process runtime, the HTTP probe.

use hoist_core::HostAddress;

use crate::adapters::http_probe::HttpProbe;
use crate::adapters::local_host::LocalHost;
use crate::error::{Error, Result};
use crate::hostside::process_runtime::ProcessRuntime;
use crate::ports::{HostConnector, HostHandle, HostTarget};

#[derive(Debug, Clone, Copy, Default)]
pub struct LocalConnector;

impl HostConnector for LocalConnector {
    fn connect(&self, target: &HostTarget) -> Result<HostHandle> {
        match &target.address {
            HostAddress::Local { root } => Ok(HostHandle {
                host: Box::new(LocalHost::new(target.address.clone(), root.clone())),
                runtime: Box::new(ProcessRuntime::new(root.clone())),
                probe: Box::new(HttpProbe),
            }),
            HostAddress::Ssh(_) => Err(Error::failed(format!(
                "cannot reach `{}`: SSH hosts are not supported yet",
                target.address
            ))),
        }
    }
}

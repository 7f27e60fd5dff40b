//! Reaching any host: `local:` roots directly on this machine; SSH hosts through one
//! ControlMaster each (`SshTransport`), speaking the `hoist host` protocol (`RemoteHost`).

use std::path::PathBuf;
use std::sync::Arc;

use hoist_core::HostAddress;

use crate::adapters::http_probe::HttpProbe;
use crate::adapters::local_host::LocalHost;
use crate::adapters::remote_host::RemoteHost;
use crate::adapters::ssh_transport::SshTransport;
use crate::error::{Error, Result};
use crate::hostside::process_runtime::ProcessRuntime;
use crate::ports::{HostConnector, HostHandle, HostTarget};

#[derive(Debug, Clone, Copy, Default)]
pub struct Connector;

impl HostConnector for Connector {
    fn connect(&self, target: &HostTarget) -> Result<HostHandle> {
        match &target.address {
            HostAddress::Local { root } => Ok(HostHandle {
                host: Box::new(LocalHost::new(target.address.clone(), root.clone())),
                runtime: Box::new(ProcessRuntime::new(root.clone())),
                probe: Box::new(HttpProbe),
            }),
            HostAddress::Ssh(_) => {
                let transport = SshTransport::connect(target)?;
                let binary = local_binary(target)?;
                Ok(RemoteHost::new(target.address.clone(), target.root.clone(), Arc::new(transport), binary).handle())
            }
        }
    }
}

/// The hoist binary to install on remote hosts: the spec's `host_binary`, else this one.
fn local_binary(target: &HostTarget) -> Result<PathBuf> {
    match &target.host_binary {
        Some(path) => Ok(path.clone()),
        None => std::env::current_exe()
            .map_err(|e| Error::internal("cannot find the running hoist binary").cause(e).hint("set `host_binary` in the environment")),
    }
}

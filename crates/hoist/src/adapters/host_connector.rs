//! Reaching any host: `local:` roots directly on this machine; SSH hosts through one
//! ControlMaster each (`SshTransport`), speaking the `hoist host` protocol (`RemoteHost`).

use std::sync::Arc;

use hoist_core::HostAddress;

use crate::adapters::remote_host::RemoteHost;
use crate::adapters::ssh_transport::SshTransport;
use crate::error::Result;
use crate::hostside::http_probe::HttpProbe;
use crate::hostside::local_host::LocalHost;
use crate::hostside::local_router::LocalRouter;
use crate::hostside::local_supervisor::LocalSupervisor;
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
                router: Box::new(LocalRouter::new(root.clone())),
                probe: Box::new(HttpProbe::new(root.clone())),
                supervisor: Box::new(LocalSupervisor::new(root)),
            }),
            HostAddress::Ssh(_) => {
                // The master connection carries the host's session itself: one ssh process
                // and one channel per host, and every other command rides the master.
                let transport = match RemoteHost::session_argv(target) {
                    Some(session) => SshTransport::connect_serving(target, session)?,
                    None => SshTransport::connect(target)?,
                };
                Ok(RemoteHost::for_target(target, Arc::new(transport))?.handle())
            }
        }
    }
}

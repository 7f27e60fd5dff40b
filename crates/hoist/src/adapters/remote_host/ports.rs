//! The runtime and the probe of a remote host: each method one call, run on the host (the
//! service binds 127.0.0.1 there, so only there can it be probed).

use std::time::{Duration, Instant};

use hoist_core::ReleaseId;
use hoist_core::spec::Health;

use super::RemoteHost;
use crate::error::Result;
use crate::hostside::host_call::{
    HostRequest, WireHealth, WireInstanceSpec, WireProbeAnswer, millis,
};
use crate::hostside::instance_record::RecordedPolicy;
use crate::ports::probe::{Probe, ProbeReport};
use crate::ports::router::{ProxyStart, RouteConfig, RouteState, Router};
use crate::ports::runtime::{
    Instance, InstanceSpec, InstanceState, PortHolder, Runtime, Slot, StackService, StrayProcess,
};
use crate::ports::supervisor::{
    BootEntry, HostEvent, SupervisionPolicy, Supervisor, SupervisorStart, SupervisorState,
};

impl Runtime for RemoteHost {
    fn start(&self, slot: Slot, spec: &InstanceSpec) -> Result<Instance> {
        let spec = WireInstanceSpec::from(spec);
        self.call(&HostRequest::RuntimeStart { spec, slot })
    }

    fn stop(&self, slot: Slot, grace: Duration) -> Result<Option<Instance>> {
        let grace_ms = millis(grace);
        self.call(&HostRequest::RuntimeStop { grace_ms, slot })
    }

    fn current(&self, slot: Slot) -> Result<Option<InstanceState>> {
        self.call(&HostRequest::RuntimeCurrent { slot })
    }

    fn strays(&self) -> Result<Vec<StrayProcess>> {
        self.call(&HostRequest::RuntimeStrays)
    }

    fn port_holder(&self, port: u16) -> Result<Option<PortHolder>> {
        self.call(&HostRequest::RuntimePortHolder { port })
    }

    fn stop_stray(&self, stray: &StrayProcess, grace: Duration) -> Result<bool> {
        let stray = stray.clone();
        let grace_ms = millis(grace);
        self.call(&HostRequest::RuntimeStopStray { stray, grace_ms })
    }

    fn log_tail(&self, release: &ReleaseId, lines: usize) -> Result<String> {
        let release = release.clone();
        self.call(&HostRequest::RuntimeLogTail { release, lines })
    }

    fn relabel(&self, slot: Slot, release: &ReleaseId) -> Result<()> {
        let release = release.clone();
        self.call(&HostRequest::RuntimeRelabel { slot, release })
    }

    fn stack_services(&self, slot: Slot) -> Result<Vec<StackService>> {
        self.call(&HostRequest::RuntimeStackServices { slot })
    }
}

impl Probe for RemoteHost {
    /// A host that cannot be asked counts as an unhealthy answer: the port has no error
    /// channel, and the report's answers say what happened.
    fn wait_healthy(
        &self,
        port: u16,
        health: &Health,
        release: &ReleaseId,
        owner_group: Option<u32>,
    ) -> ProbeReport {
        let started = Instant::now();
        let health = WireHealth::from(health);
        let release = release.clone();
        match self.call(&HostRequest::ProbeWaitHealthy {
            port,
            health,
            release,
            owner_group,
        }) {
            Ok(report) => report,
            Err(error) => ProbeReport {
                healthy: false,
                attempts: 0,
                last_answers: vec![error.to_string()],
                elapsed: started.elapsed(),
            },
        }
    }

    fn probe_once(
        &self,
        port: u16,
        health: &Health,
        release: &ReleaseId,
        owner_group: Option<u32>,
    ) -> Result<String, String> {
        let health = WireHealth::from(health);
        let release = release.clone();
        match self.call::<WireProbeAnswer>(&HostRequest::ProbeOnce {
            port,
            health,
            release,
            owner_group,
        }) {
            Ok(answer) => answer.into(),
            Err(error) => Err(error.to_string()),
        }
    }
}

impl Router for RemoteHost {
    fn ensure_proxy(&self, config: &RouteConfig) -> Result<ProxyStart> {
        let config = config.clone();
        self.call(&HostRequest::RouterEnsure { config })
    }

    fn route(&self, config: &RouteConfig) -> Result<RouteState> {
        let config = config.clone();
        self.call(&HostRequest::RouterRoute { config })
    }

    fn set_upstream(&self, config: &RouteConfig, port: u16) -> Result<()> {
        let config = config.clone();
        self.call(&HostRequest::RouterSetUpstream { config, port })
    }

    fn set_static(&self, config: &RouteConfig, site: &std::path::Path) -> Result<()> {
        let config = config.clone();
        let site = site.to_owned();
        self.call(&HostRequest::RouterSetStatic { config, site })
    }

    fn drain(&self, config: &RouteConfig, port: u16, limit: Duration) -> Result<usize> {
        let config = config.clone();
        let limit_ms = millis(limit);
        self.call(&HostRequest::RouterDrain {
            config,
            port,
            limit_ms,
        })
    }

    fn set_maintenance(&self, config: &RouteConfig, on: bool) -> Result<()> {
        let config = config.clone();
        self.call(&HostRequest::RouterMaintenance { config, on })
    }

    fn free_port(&self) -> Result<u16> {
        self.call(&HostRequest::RouterFreePort)
    }

    fn stop_proxy(&self) -> Result<bool> {
        self.call(&HostRequest::RouterStopProxy)
    }
}

impl Supervisor for RemoteHost {
    fn supervise(&self, slot: Slot, policy: &SupervisionPolicy) -> Result<SupervisorStart> {
        let policy = RecordedPolicy::from(policy);
        self.call(&HostRequest::Supervise { slot, policy })
    }

    fn ensure_supervisor(&self) -> Result<SupervisorStart> {
        self.call(&HostRequest::SupervisorEnsure)
    }

    fn supervisor_state(&self) -> Result<Option<SupervisorState>> {
        self.call(&HostRequest::SupervisorState)
    }

    fn stop_supervisor(&self) -> Result<bool> {
        self.call(&HostRequest::SupervisorStop)
    }

    fn boot_entry(&self) -> Result<BootEntry> {
        self.call(&HostRequest::BootEntryState)
    }

    fn install_boot_entry(&self) -> Result<BootEntry> {
        self.call(&HostRequest::BootEntryInstall)
    }

    fn remove_boot_entry(&self) -> Result<bool> {
        self.call(&HostRequest::BootEntryRemove)
    }

    fn host_events(&self) -> Result<Vec<HostEvent>> {
        self.call(&HostRequest::HostEvents)
    }

    fn ack_host_events(&self, seq: u64) -> Result<()> {
        self.call(&HostRequest::AckHostEvents { seq })
    }
}

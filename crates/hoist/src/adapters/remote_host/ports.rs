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
use crate::ports::probe::{Probe, ProbeReport};
use crate::ports::runtime::{Instance, InstanceSpec, InstanceState, Runtime};

impl Runtime for RemoteHost {
    fn start(&self, spec: &InstanceSpec) -> Result<Instance> {
        let spec = WireInstanceSpec::from(spec);
        self.call(&HostRequest::RuntimeStart { spec })
    }

    fn stop(&self, grace: Duration) -> Result<Option<Instance>> {
        let grace_ms = millis(grace);
        self.call(&HostRequest::RuntimeStop { grace_ms })
    }

    fn current(&self) -> Result<Option<InstanceState>> {
        self.call(&HostRequest::RuntimeCurrent)
    }

    fn log_tail(&self, release: &ReleaseId, lines: usize) -> Result<String> {
        let release = release.clone();
        self.call(&HostRequest::RuntimeLogTail { release, lines })
    }
}

impl Probe for RemoteHost {
    /// A host that cannot be asked counts as an unhealthy answer: the port has no error
    /// channel, and the report's answers say what happened.
    fn wait_healthy(&self, port: u16, health: &Health, release: &ReleaseId) -> ProbeReport {
        let started = Instant::now();
        let health = WireHealth::from(health);
        let release = release.clone();
        match self.call(&HostRequest::ProbeWaitHealthy {
            port,
            health,
            release,
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
    ) -> Result<String, String> {
        let health = WireHealth::from(health);
        let release = release.clone();
        match self.call::<WireProbeAnswer>(&HostRequest::ProbeOnce {
            port,
            health,
            release,
        }) {
            Ok(answer) => answer.into(),
            Err(error) => Err(error.to_string()),
        }
    }
}

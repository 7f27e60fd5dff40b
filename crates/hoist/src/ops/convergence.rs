//! Does what runs on a host match what is recorded? `deploy` asks before it says "nothing to
//! deploy", `run` and `check --fix` repair what it finds, the daemon's reconcile records it.
//! A gap is one line saying what differs; none means the host serves the live release from a
//! healthy, supervised instance, with its proxy, supervisor and boot entry in place.

use hoist_core::ReleaseId;
use hoist_core::spec::{Service, Strategy, Workload};

use crate::error::Result;
use crate::ops::run::blue_green::SlotPair;
use crate::ops::run::static_site;
use crate::ports::HostHandle;
use crate::ports::router::RouteConfig;
use crate::ports::runtime::{InstanceState, Slot, SupervisedStatus};
use crate::ports::supervisor::BootEntryKind;

/// What differs on one host between `live` (what the store says is live) and what runs.
pub(crate) fn host_gaps(
    handle: &HostHandle,
    service: Option<&Service>,
    live: &ReleaseId,
) -> Result<Vec<String>> {
    let mut gaps = Vec::new();
    let host_live = handle.host.releases()?.live;
    if host_live.as_ref() != Some(live) {
        gaps.push(format!(
            "`live` is {}, not `{live}`",
            host_live.map_or_else(|| "nothing".to_owned(), |id| format!("`{id}`"))
        ));
    }
    let Some(service) = service else {
        return Ok(gaps);
    };
    if let Workload::Static { dir } = &service.workload {
        let route = handle.router.route(&RouteConfig::for_service(service))?;
        match &route.proxy {
            Some(proxy) if !proxy.alive => {
                gaps.push(format!("the proxy (pid {}) is not running", proxy.pid));
            }
            None => gaps.push("no proxy runs".to_owned()),
            Some(_) => {}
        }
        if !static_site::serves_site(&route, dir) {
            gaps.push(format!("the proxy does not serve `live/{}`", dir.display()));
        }
        keeper_gaps(handle, &mut gaps)?;
        return Ok(gaps);
    }
    let serving = match service.strategy {
        Strategy::Recreate => handle.runtime.current(Slot::Single)?,
        Strategy::BlueGreen => {
            let config = RouteConfig::for_service(service);
            let pair = SlotPair::read(handle, &config)?;
            if let (RouteConfig::Builtin { .. }, Some(proxy)) = (&config, &pair.route.proxy)
                && !proxy.alive
            {
                gaps.push(format!("the proxy (pid {}) is not running", proxy.pid));
            }
            if matches!(config, RouteConfig::Builtin { .. }) && pair.route.proxy.is_none() {
                gaps.push("no proxy runs".to_owned());
            }
            pair.routed().map(|(_, state)| state.clone())
        }
    };
    instance_gaps(handle, service, live, serving.as_ref(), &mut gaps);
    keeper_gaps(handle, &mut gaps)?;
    Ok(gaps)
}

/// The supervisor runs and the boot entry is in place (it restarts the proxy after a reboot).
fn keeper_gaps(handle: &HostHandle, gaps: &mut Vec<String>) -> Result<()> {
    let supervisor = handle.supervisor.supervisor_state()?;
    if !supervisor.as_ref().is_some_and(|state| state.alive) {
        gaps.push("the supervisor is not running".to_owned());
    }
    let boot = handle.supervisor.boot_entry()?;
    if !boot.installed && boot.kind != BootEntryKind::Unavailable {
        gaps.push(format!("no boot entry: {}", boot.detail));
    }
    Ok(())
}

fn instance_gaps(
    handle: &HostHandle,
    service: &Service,
    live: &ReleaseId,
    serving: Option<&InstanceState>,
    gaps: &mut Vec<String>,
) {
    let Some(state) = serving else {
        gaps.push("no instance serves".to_owned());
        return;
    };
    let instance = &state.instance;
    if !state.alive {
        gaps.push(format!(
            "the instance of `{}` (pid {}) is not running",
            instance.release, instance.pid
        ));
        return;
    }
    if &instance.release != live {
        gaps.push(format!(
            "the instance serves `{}`, not `{live}`",
            instance.release
        ));
    }
    match state.supervision.as_ref().map(|s| s.status) {
        None => gaps.push(format!(
            "the instance (pid {}) is not supervised",
            instance.pid
        )),
        Some(SupervisedStatus::CrashLooping) => gaps.push(format!(
            "the instance of `{}` is crash-looping",
            instance.release
        )),
        Some(SupervisedStatus::Running | SupervisedStatus::Restarting) => {}
    }
    if let Some(health) = &service.health
        && let Err(answer) =
            handle
                .probe
                .probe_once(instance.port, health, &instance.release, Some(instance.pid))
    {
        gaps.push(format!(
            "the instance fails its health check {}: {answer}",
            health.check.describe(instance.port)
        ));
    }
}

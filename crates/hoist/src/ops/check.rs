//! `check`: compare what the store recorded (the truth for what was asked) with each host's
//! layout, route and processes (the truth for what is there), and report every drift. With
//! `--fix` it first repairs what can be repaired safely (`ops::repair`).

mod port_holder;

use std::net::SocketAddr;

use hoist_core::spec::{Service, Strategy, Workload};
use hoist_core::{EnvName, EnvState, ReleaseId};
use serde::Serialize;

use crate::error::Result;
use crate::ops::context::Context;
use crate::ops::fleet;
use crate::ops::host_targets::host_targets;
use crate::ops::repair;
use crate::ops::run::blue_green::SlotPair;
use crate::ops::run::static_site;
use crate::ops::supervision::collect_host_events;
use crate::ports::HostHandle;
use crate::ports::router::{ProxyProcessState, RouteConfig};
use crate::ports::runtime::{
    InstanceState, Slot, StrayProcess, SupervisedStatus, SupervisionReport,
};
use crate::ports::store::LiveInstance;
use crate::ports::supervisor::{BootEntry, BootEntryKind, SupervisorState};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostCheck {
    pub address: String,
    /// Whether hoist could connect to the host; when false, nothing below is known.
    pub reachable: bool,
    pub expected_live: Option<ReleaseId>,
    pub live: Option<ReleaseId>,
    /// The serving instance: recreate's, or the routed one of blue-green.
    pub instance_release: Option<ReleaseId>,
    pub instance_alive: bool,
    /// `None` when there is no health check or nothing to probe.
    pub healthy: Option<bool>,
    /// Blue-green: every recorded slot instance.
    pub slots: Vec<SlotCheck>,
    /// Blue-green: where the route points.
    pub route: Option<SocketAddr>,
    pub maintenance: bool,
    /// The built-in proxy's process, when hoist started one.
    pub proxy: Option<ProxyProcessState>,
    /// A static site: the directory the proxy serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_root: Option<std::path::PathBuf>,
    /// Processes of this root that no record owns.
    pub strays: Vec<StrayProcess>,
    /// What the store recorded as this host's live instance.
    pub recorded: Option<LiveInstance>,
    /// The serving instance's supervision (status, restarts, last exit).
    pub supervision: Option<SupervisionReport>,
    pub supervisor: Option<SupervisorState>,
    pub boot_entry: Option<BootEntry>,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotCheck {
    pub slot: Slot,
    pub release: ReleaseId,
    pub pid: u32,
    pub port: u16,
    pub alive: bool,
    pub routed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub env: EnvName,
    pub state: Option<EnvState>,
    pub hosts: Vec<HostCheck>,
    /// What `--fix` did, one line each.
    pub fixed: Vec<String>,
    pub ok: bool,
}

#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub env: EnvName,
    /// Repair first: stop instances no record owns, start a dead proxy.
    pub fix: bool,
}

pub fn check(ctx: &Context<'_>, options: &CheckOptions) -> Result<CheckReport> {
    let fixed = match options.fix {
        true => repair::repair(ctx, &options.env)?,
        false => Vec::new(),
    };
    let targets = host_targets(ctx, &options.env)?;
    let record = ctx.store.environment(&options.env)?;
    let state = record.as_ref().map(|r| r.state);
    let expected_live = record.as_ref().and_then(|r| r.live_release.clone());
    let recorded = ctx.store.live_instances(&options.env)?;
    let hints = Hints {
        deploy: ctx.command_line("deploy", &options.env),
        logs: ctx.command_line("logs", &options.env),
        fix: format!("{} --fix", ctx.command_line("check", &options.env)),
    };
    let hosts = fleet::map_parallel(&targets, |target| {
        let address = target.address.to_string();
        let mut host_check = HostCheck {
            recorded: recorded.iter().find(|r| r.host == address).cloned(),
            address,
            reachable: true,
            expected_live: expected_live.clone(),
            live: None,
            instance_release: None,
            instance_alive: false,
            healthy: None,
            slots: Vec::new(),
            route: None,
            maintenance: false,
            proxy: None,
            static_root: None,
            strays: Vec::new(),
            supervision: None,
            supervisor: None,
            boot_entry: None,
            problems: Vec::new(),
        };
        match ctx.hosts.connect(target) {
            Ok(handle) => {
                // What the host's supervisor did since hoist last talked to it.
                if let Err(error) = collect_host_events(ctx, &options.env, &handle) {
                    host_check
                        .problems
                        .push(format!("cannot read the host journal: {error}"));
                }
                // Its restarts moved the store's record of the live instance (a new pid):
                // compare the host with the record as it is now.
                if let Ok(instances) = ctx.store.live_instances(&options.env) {
                    host_check.recorded = instances
                        .into_iter()
                        .find(|instance| instance.host == host_check.address);
                }
                check_host(ctx, &handle, state, &hints, &mut host_check);
            }
            Err(error) => {
                host_check.reachable = false;
                host_check
                    .problems
                    .push(format!("cannot reach the host: {error}"));
            }
        }
        host_check
    });
    let ok = hosts.iter().all(|h| h.problems.is_empty());
    Ok(CheckReport {
        env: options.env.clone(),
        state,
        hosts,
        fixed,
        ok,
    })
}

/// The exact commands the problems name, spelled as this invocation would (`-f`, …).
struct Hints {
    deploy: String,
    logs: String,
    fix: String,
}

fn check_host(
    ctx: &Context<'_>,
    handle: &HostHandle,
    state: Option<EnvState>,
    hints: &Hints,
    out: &mut HostCheck,
) {
    let expects_layout =
        matches!(state, Some(s) if s >= EnvState::Provisioned && s != EnvState::Destroyed);
    match handle.host.releases() {
        Ok(releases) => {
            out.live = releases.live.clone();
            out.problems.extend(releases.chain.violations());
            if expects_layout && out.live != out.expected_live {
                out.problems.push(format!(
                    "`live` points at {}, the store expects {}",
                    show(out.live.as_ref()),
                    show(out.expected_live.as_ref())
                ));
            }
        }
        Err(error) if expects_layout => out
            .problems
            .push(format!("cannot read the layout: {error}")),
        Err(_) => {}
    }
    match handle.runtime.strays() {
        Ok(strays) => {
            for stray in &strays {
                out.problems.push(format!(
                    "{} runs as a {} instance of this root but no record owns it (`{}`); `{}` stops it",
                    stray.what(),
                    stray.slot,
                    stray.command,
                    hints.fix
                ));
            }
            out.strays = strays;
        }
        Err(error) => out
            .problems
            .push(format!("cannot look for stray instances: {error}")),
    }
    let Some(service) = &ctx.spec.service else {
        return;
    };
    let running = state == Some(EnvState::Running);
    check_keepers(handle, running, hints, out);
    if let Workload::Static { dir } = &service.workload {
        check_static_site(handle, service, dir, running, hints, out);
        return;
    }
    let serving = match service.strategy {
        Strategy::Recreate => check_single(handle, running, hints, out),
        Strategy::BlueGreen => check_pair(handle, service, running, hints, out),
    };
    if running {
        port_holder::check_port_holder(handle, service, serving.as_ref(), out);
    }
    let Some(serving) = serving else {
        return;
    };
    out.instance_alive = serving.alive;
    out.instance_release = Some(serving.instance.release.clone());
    out.supervision = serving.supervision.clone();
    check_supervision(&serving, running, hints, out);
    if serving.alive && out.live.as_ref() != Some(&serving.instance.release) {
        out.problems.push(format!(
            "the serving instance is `{}` but `live` is {}",
            serving.instance.release,
            show(out.live.as_ref())
        ));
    }
    if serving.alive
        && let Some(recorded) = &out.recorded
        && (recorded.pid != serving.instance.pid || recorded.release != serving.instance.release)
    {
        out.problems.push(format!(
            "the store records `{}` (pid {}) as live here, the host serves `{}` (pid {})",
            recorded.release, recorded.pid, serving.instance.release, serving.instance.pid
        ));
    }
    if let (Some(health), true) = (&service.health, serving.alive) {
        let (port, owner) = (serving.instance.port, Some(serving.instance.pid));
        match handle
            .probe
            .probe_once(port, health, &serving.instance.release, owner)
        {
            Ok(_) => out.healthy = Some(true),
            Err(answer) => {
                out.healthy = Some(false);
                out.problems.push(format!(
                    "health check {} failed: {answer}",
                    health.check.describe(port)
                ));
            }
        }
    }
}

/// A static site: the proxy runs and serves `live/<site>`.
fn check_static_site(
    handle: &HostHandle,
    service: &Service,
    site: &std::path::Path,
    running: bool,
    hints: &Hints,
    out: &mut HostCheck,
) {
    let route = match handle.router.route(&RouteConfig::for_service(service)) {
        Ok(route) => route,
        Err(error) => {
            out.problems.push(format!("cannot read the route: {error}"));
            return;
        }
    };
    out.maintenance = route.maintenance;
    out.proxy = route.proxy.clone();
    out.static_root = route.static_root.clone();
    if !running {
        return;
    }
    match &route.proxy {
        Some(proxy) if proxy.alive => out.healthy = Some(true),
        Some(proxy) => out.problems.push(format!(
            "the proxy (pid {}) is not running; `{}` starts it again",
            proxy.pid, hints.deploy
        )),
        None => out.problems.push(format!(
            "no proxy was ever started; `{}` starts it",
            hints.deploy
        )),
    }
    if !static_site::serves_site(&route, site) {
        out.problems.push(format!(
            "the proxy does not serve `live/{}`; `{}` routes it",
            site.display(),
            hints.deploy
        ));
    }
}

/// Recreate: the one instance. Returns it when recorded.
fn check_single(
    handle: &HostHandle,
    running: bool,
    hints: &Hints,
    out: &mut HostCheck,
) -> Option<InstanceState> {
    match handle.runtime.current(Slot::Single) {
        Ok(Some(current)) => {
            if !current.alive && running {
                let restarting = current
                    .supervision
                    .as_ref()
                    .filter(|s| s.status == SupervisedStatus::Restarting);
                let next = match restarting.and_then(|s| s.next_restart_at.as_deref()) {
                    Some(at) => format!("the supervisor starts it again at {at}, or"),
                    None => "nothing restarts it;".to_owned(),
                };
                out.problems.push(format!(
                    "the instance of `{}` (pid {}) is not running; {next} `{}` starts it now",
                    current.instance.release, current.instance.pid, hints.deploy
                ));
            }
            Some(current)
        }
        Ok(None) => {
            if running {
                out.problems.push(format!(
                    "no instance is recorded as running; `{}` starts it",
                    hints.deploy
                ));
            }
            None
        }
        Err(error) => {
            out.problems
                .push(format!("cannot read the instance: {error}"));
            None
        }
    }
}

/// Blue-green: the proxy, the route and both slots. Returns the routed instance.
fn check_pair(
    handle: &HostHandle,
    service: &Service,
    running: bool,
    hints: &Hints,
    out: &mut HostCheck,
) -> Option<InstanceState> {
    let config = RouteConfig::for_service(service);
    let pair = match SlotPair::read(handle, &config) {
        Ok(pair) => pair,
        Err(error) => {
            out.problems
                .push(format!("cannot read the route and instances: {error}"));
            return None;
        }
    };
    out.route = pair.route.upstream;
    out.maintenance = pair.route.maintenance;
    out.proxy = pair.route.proxy.clone();
    if matches!(config, RouteConfig::Builtin { .. }) && running {
        match &pair.route.proxy {
            Some(proxy) if proxy.alive => {}
            Some(proxy) => out.problems.push(format!(
                "the proxy (pid {}) is not running; `{}` starts it again",
                proxy.pid, hints.deploy
            )),
            None => out.problems.push(format!(
                "no proxy was ever started; `{}` starts it",
                hints.deploy
            )),
        }
    }
    let routed = pair.routed().map(|(slot, _)| slot);
    for slot in Slot::PAIR {
        let Some(state) = pair.slot(slot) else {
            continue;
        };
        let is_routed = routed == Some(slot);
        out.slots.push(SlotCheck {
            slot,
            release: state.instance.release.clone(),
            pid: state.instance.pid,
            port: state.instance.port,
            alive: state.alive,
            routed: is_routed,
        });
        if state.alive && !is_routed {
            out.problems.push(format!(
                "the {slot} instance of `{}` (pid {}, port {}) runs but the route does not name it; `{}` stops it",
                state.instance.release, state.instance.pid, state.instance.port, hints.fix
            ));
        }
        if !state.alive {
            // The route's instance: `deploy` starts a new one and swaps to it; any other
            // dead record only needs clearing, which `deploy` leaves to `--fix`.
            let routed_port = pair.route.upstream.map(|upstream| upstream.port());
            let hint = match routed_port == Some(state.instance.port) {
                true => format!("`{}` starts the service again", hints.deploy),
                false => format!("`{}` clears its record", hints.fix),
            };
            out.problems.push(format!(
                "the {slot} instance of `{}` (pid {}) is recorded but not running; {hint}",
                state.instance.release, state.instance.pid
            ));
        }
    }
    match (pair.route.upstream, routed) {
        (Some(upstream), None) => out.problems.push(format!(
            "the route points at {upstream}, where no recorded instance runs; `{}` converges it",
            hints.deploy
        )),
        (None, _) if running => out.problems.push("no route is set".to_owned()),
        _ => {}
    }
    routed.and_then(|slot| pair.slot(slot).cloned())
}

fn show(id: Option<&ReleaseId>) -> String {
    id.map_or_else(|| "nothing".to_owned(), |id| format!("`{id}`"))
}

/// The supervisor and the boot entry of a running environment's host.
fn check_keepers(handle: &HostHandle, running: bool, hints: &Hints, out: &mut HostCheck) {
    match handle.supervisor.supervisor_state() {
        Ok(state) => {
            if running && !state.as_ref().is_some_and(|s| s.alive) {
                let what = match &state {
                    Some(state) => format!("the supervisor (pid {}) is not running", state.pid),
                    None => "no supervisor was ever started".to_owned(),
                };
                out.problems.push(format!(
                    "{what}: nothing restarts the service if it dies; `{}` starts it",
                    hints.deploy
                ));
            }
            out.supervisor = state;
        }
        Err(error) => out
            .problems
            .push(format!("cannot read the supervisor: {error}")),
    }
    match handle.supervisor.boot_entry() {
        Ok(entry) => {
            if running && !entry.installed {
                let fix = match entry.kind {
                    BootEntryKind::Unavailable => {
                        "the service will not start after a reboot".to_owned()
                    }
                    _ => format!("`{}` installs it", hints.deploy),
                };
                out.problems
                    .push(format!("no boot entry ({}); {fix}", entry.detail));
            }
            out.boot_entry = Some(entry);
        }
        Err(error) => out
            .problems
            .push(format!("cannot read the boot entry: {error}")),
    }
}

/// The serving instance is handed to the supervisor and not given up on.
fn check_supervision(serving: &InstanceState, running: bool, hints: &Hints, out: &mut HostCheck) {
    if !running {
        return;
    }
    let release = &serving.instance.release;
    match serving.supervision.as_ref() {
        None if serving.alive => out.problems.push(format!(
            "the instance of `{release}` (pid {}) is not supervised; `{}` hands it over",
            serving.instance.pid, hints.deploy
        )),
        Some(report) if report.status == SupervisedStatus::CrashLooping => {
            let last = report
                .last_exit
                .as_ref()
                .map(|exit| format!(", last exit {} at {}", exit.status, exit.at))
                .unwrap_or_default();
            out.problems.push(format!(
                "the instance of `{release}` is crash-looping ({} restarts{last}); see `{}`, fix it, then `{}`",
                report.restarts, hints.logs, hints.deploy
            ));
        }
        _ => {}
    }
}

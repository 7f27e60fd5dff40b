//! `run` with `strategy = "blue-green"` on one host. Each step is recorded and ends at a
//! failpoint, so a crash anywhere leaves a state the next `run` converges from:
//!
//! 1. start the release in the free slot, on a fresh port;
//! 2. probe it — on failure stop it, and the route never moved;
//! 3. point the route at it (one upsert) and switch `live` with it;
//! 4. record it as the host's live instance;
//! 5. let the old instance drain, then stop it.
//!
//! The route is the truth on a host: the live slot is the one whose port the route names.
//! An instance in the other slot is left over from an interrupted run and is replaced.

use std::time::Instant;

use hoist_core::spec::{Service, Strategy};
use hoist_core::{ReleaseId, ReleaseStatus};

use crate::error::{Error, Result};
use crate::failpoint;
use crate::ops::command_run::CommandRun;
use crate::ops::run::hooks::{run_hooks, start_hook_env, stop_hook_env};
use crate::ops::run::{HostRun, record_live_instance, set_record_status};
use crate::ops::supervision::{hand_over, instance_spec};
use crate::ports::HostHandle;
use crate::ports::host::ExecDir;
use crate::ports::router::{ProxyStart, RouteConfig, RouteState};
use crate::ports::runtime::{Instance, InstanceState, Slot};
use crate::ports::store::StepLogEntry;

/// What a host runs for a blue-green service, read from the host.
#[derive(Debug, Clone)]
pub(crate) struct SlotPair {
    pub route: RouteState,
    /// The recorded instance of each slot.
    pub blue: Option<InstanceState>,
    pub green: Option<InstanceState>,
}

impl SlotPair {
    pub fn read(handle: &HostHandle, config: &RouteConfig) -> Result<Self> {
        Ok(Self {
            route: handle.router.route(config)?,
            blue: handle.runtime.current(Slot::Blue)?,
            green: handle.runtime.current(Slot::Green)?,
        })
    }

    pub fn slot(&self, slot: Slot) -> Option<&InstanceState> {
        match slot {
            Slot::Blue => self.blue.as_ref(),
            Slot::Green => self.green.as_ref(),
            Slot::Single => None,
        }
    }

    /// The slot the route points at, if its instance is alive.
    pub fn routed(&self) -> Option<(Slot, &InstanceState)> {
        let upstream = self.route.upstream?;
        Slot::PAIR.into_iter().find_map(|slot| {
            self.slot(slot)
                .filter(|state| state.alive && state.instance.port == upstream.port())
                .map(|state| (slot, state))
        })
    }
}

/// The instance serving a host: recreate's, or the one the route names.
pub(crate) fn serving_instance(
    handle: &HostHandle,
    service: &Service,
) -> Result<Option<InstanceState>> {
    match service.strategy {
        Strategy::Recreate => handle.runtime.current(Slot::Single),
        Strategy::BlueGreen => {
            let pair = SlotPair::read(handle, &RouteConfig::for_service(service))?;
            Ok(pair.routed().map(|(_, state)| state.clone()))
        }
    }
}

/// Whether an instance already routed to the target is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Swap {
    /// `run`/`deploy`: a healthy routed instance of the target is kept (and an interrupted
    /// swap finished).
    IfNeeded,
    /// `restart`: a new instance of the target in the free slot replaces the routed one.
    Fresh,
}

/// Makes `target` live on one host through the free slot; returns what it did.
pub(crate) fn make_live(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    service: &Service,
    target: &ReleaseId,
    live: Option<ReleaseId>,
    swap: Swap,
) -> Result<HostRun> {
    let config = RouteConfig::for_service(service);
    let address = handle.host.address().to_string();
    let note = |message: String| run.ctx.progress.note(&format!("{address}: {message}"));
    let pair = SlotPair::read(handle, &config)?;
    // A single (recreate) instance holds the public port: the proxy starts once it is gone.
    let single = handle
        .runtime
        .current(Slot::Single)?
        .filter(|state| state.alive);
    if single.is_none() {
        ensure_proxy(run, handle, &config)?;
    }

    if let Some((slot, state)) = pair.routed().filter(|_| swap == Swap::IfNeeded)
        && &state.instance.release == target
        && healthy_now(handle, service, &state.instance, target)
    {
        // Routed already (an earlier run stopped after the swap): finish what is left.
        let unfinished = live.as_ref() != Some(target) || pair.slot(slot.other()).is_some();
        let supervised = state
            .supervision
            .as_ref()
            .is_some_and(|s| s.status == crate::ports::runtime::SupervisedStatus::Running);
        if !unfinished {
            if !supervised {
                hand_over(run.ctx, handle, slot, service)?;
            }
            note(format!("already serves `{target}` from the {slot} slot"));
            return Ok(HostRun::AlreadyLive);
        }
        note(format!("`{target}` is routed already; finishing the swap"));
        promote(handle, target, live.as_ref())?;
        record_live_instance(run, handle, slot, &state.instance)?;
        hand_over(run.ctx, handle, slot, service)?;
        retire_others(run, handle, service, &config, slot, &pair, target)?;
        return Ok(HostRun::Switched { previous: live });
    }

    let routed = pair.routed().map(|(slot, state)| (slot, state.clone()));
    let slot = routed.as_ref().map_or(Slot::Blue, |(slot, _)| slot.other());
    if let Some(leftover) = pair.slot(slot) {
        note(format!(
            "stopping `{}` left in the {slot} slot by an interrupted run",
            leftover.instance.release
        ));
        handle.runtime.stop(slot, service.stop_grace)?;
    }

    let started = Instant::now();
    let port = handle.router.free_port()?;
    let spec = instance_spec(&run.ctx.spec.app.name, &run.env_name, service, target, port);
    let instance = handle.runtime.start(slot, &spec)?;
    record(
        run,
        handle,
        &format!("start {slot}"),
        started,
        format!("`{target}` pid {} port {port}", instance.pid),
    )?;
    note(format!(
        "started `{target}` in the {slot} slot (pid {}) on port {port}",
        instance.pid
    ));
    failpoint::hit("blue_green.after_start");

    let started = Instant::now();
    if let Some(health) = &service.health {
        let owner = Some(instance.pid);
        let report = handle.probe.wait_healthy(port, health, target, owner);
        if !report.healthy {
            let log_tail = handle
                .runtime
                .log_tail(target, 20)
                .unwrap_or_else(|e| format!("(no log: {e})"));
            let stopped = handle.runtime.stop(slot, service.stop_grace);
            if live.as_ref() != Some(target) {
                let _ = handle.host.mark_failed(target, "failed its health check");
                let _ = set_record_status(run, target, ReleaseStatus::Failed);
            }
            let keeps = match &routed {
                Some((_, old)) => format!("`{}` keeps serving", old.instance.release),
                None => "nothing was serving before".to_owned(),
            };
            let mut error = Error::failed(format!(
                "release `{target}` failed its health check on `{address}`; the route did not move"
            ))
            .cause(format!(
                "{}; last answers: {}",
                health.check.describe(port),
                report.last_answers.join(", ")
            ))
            .cause(format!("service log:\n{log_tail}"));
            if let Err(stop_error) = stopped {
                error = error.cause(format!("and stopping it failed: {stop_error}"));
            }
            return Err(error.hint(format!("{keeps}; fix the service and deploy again")));
        }
        note(format!(
            "healthy after {} tries ({:.1}s)",
            report.attempts,
            report.elapsed.as_secs_f64()
        ));
    }
    record(
        run,
        handle,
        "probe",
        started,
        format!("`{target}` on port {port}"),
    )?;
    failpoint::hit("blue_green.after_probe");

    if let Some(single) = &single {
        note(format!(
            "stopping the recreate instance of `{}` so the proxy can take port {}",
            single.instance.release, service.port
        ));
        handle.runtime.stop(Slot::Single, service.stop_grace)?;
        ensure_proxy(run, handle, &config)?;
    }
    let started = Instant::now();
    if let Err(error) = handle.router.set_upstream(&config, port) {
        // The route did not move (nginx refused its config, the proxy is gone): the new
        // instance must not linger unrouted.
        let _ = handle.runtime.stop(slot, service.stop_grace);
        return Err(error.context(format!(
            "the route to `{target}` could not be set on `{address}`; the old instance keeps serving"
        )));
    }
    failpoint::hit("blue_green.after_route");
    promote(handle, target, live.as_ref())?;
    record(
        run,
        handle,
        "route",
        started,
        format!("to port {port}, live `{target}`"),
    )?;
    failpoint::hit("blue_green.after_switch");

    record_live_instance(run, handle, slot, &instance)?;
    failpoint::hit("blue_green.after_persist");
    hand_over(run.ctx, handle, slot, service)?;

    // What the first read saw in the other slot is the instance the route just left.
    retire_others(run, handle, service, &config, slot, &pair, target)?;
    run_hooks(
        handle,
        &run.ctx.spec.hooks.start,
        &ExecDir::Release(target.clone()),
        &start_hook_env(run, target, live.as_ref()),
        "start",
    )?;
    Ok(HostRun::Switched { previous: live })
}

pub(crate) fn ensure_proxy(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    config: &RouteConfig,
) -> Result<()> {
    let outcome = handle.router.ensure_proxy(config)?;
    let address = handle.host.address();
    match outcome {
        ProxyStart::Started => run
            .ctx
            .progress
            .note(&format!("{address}: started the proxy")),
        ProxyStart::Restarted => run.ctx.progress.note(&format!(
            "{address}: the proxy was not running; started it again with its routes"
        )),
        ProxyStart::Running | ProxyStart::External => {}
    }
    Ok(())
}

/// `instance` answers its health check itself (its pid leads the group that must listen).
fn healthy_now(
    handle: &HostHandle,
    service: &Service,
    instance: &Instance,
    target: &ReleaseId,
) -> bool {
    let (port, owner) = (instance.port, Some(instance.pid));
    service
        .health
        .as_ref()
        .is_none_or(|health| handle.probe.probe_once(port, health, target, owner).is_ok())
}

/// Switches `live` to `target` unless it is already.
fn promote(handle: &HostHandle, target: &ReleaseId, live: Option<&ReleaseId>) -> Result<()> {
    if live != Some(target) {
        handle.host.switch_live(target)?;
    }
    Ok(())
}

/// Stops the instance of the other slot, if any: drained first when alive (requests the route
/// sent it before the swap finish), its stop hooks run in its release.
fn retire_others(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    service: &Service,
    config: &RouteConfig,
    live_slot: Slot,
    pair: &SlotPair,
    incoming: &ReleaseId,
) -> Result<()> {
    let address = handle.host.address();
    let old_slot = live_slot.other();
    let Some(old) = pair.slot(old_slot) else {
        return Ok(());
    };
    let started = Instant::now();
    if old.alive {
        let left = handle
            .router
            .drain(config, old.instance.port, service.drain)?;
        if left > 0 {
            run.ctx.progress.note(&format!(
                "{address}: {left} request(s) still in flight to `{}` after the drain time",
                old.instance.release
            ));
        }
        failpoint::hit("blue_green.after_drain");
        if let Err(error) = run_hooks(
            handle,
            &run.ctx.spec.hooks.stop,
            &ExecDir::Release(old.instance.release.clone()),
            &stop_hook_env(run, &old.instance.release, incoming),
            "stop",
        ) {
            run.ctx
                .progress
                .note(&format!("{address}: ignoring a failed stop hook: {error}"));
        }
    }
    handle.runtime.stop(old_slot, service.stop_grace)?;
    record(
        run,
        handle,
        &format!("stop {old_slot}"),
        started,
        format!("`{}` pid {}", old.instance.release, old.instance.pid),
    )?;
    run.ctx.progress.note(&format!(
        "{address}: stopped `{}` in the {old_slot} slot",
        old.instance.release
    ));
    failpoint::hit("blue_green.after_stop");
    Ok(())
}

/// One step-log entry for one host's step.
fn record(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    step: &str,
    started: Instant,
    detail: String,
) -> Result<()> {
    let entry = StepLogEntry {
        step: format!("blue-green {step} @ {}", handle.host.address()),
        ok: true,
        started_at: run.ctx.clock.now(),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        detail: Some(detail),
    };
    run.ctx.store.append_command_step(run.command.id, &entry)
}

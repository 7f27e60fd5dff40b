//! `run` with `strategy = "recreate"` (or no service) on one host: stop hooks, stop the old
//! instance, switch `live` atomically, start the new one, start hooks, then the health probe,
//! and hand the instance to the host's supervisor; or, when `refresh` hooks are given, switch
//! and refresh. A failed start or probe puts the old release back (switch, start it as it was
//! deployed, probe it as it was deployed) and marks the new one failed.

use hoist_core::spec::{Health, Service, Workload};
use hoist_core::{ReleaseId, ReleaseStatus};

use crate::error::{Error, Result};
use crate::failpoint;
use crate::hostside::host_call::WireHealth;
use crate::ops::command_run::CommandRun;
use crate::ops::run::hooks::{run_hooks, start_hook_env, stop_hook_env};
use crate::ops::run::{RunMode, record_live_instance, set_record_status};
use crate::ops::supervision::{hand_over, instance_spec};
use crate::ports::HostHandle;
use crate::ports::host::ExecDir;
use crate::ports::runtime::Slot;

/// `live` is `target` and, when there is a service, its instance of `target` runs and answers
/// its health check.
pub(crate) fn serves_healthily(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    target: &ReleaseId,
    live: Option<&ReleaseId>,
) -> Result<bool> {
    if live != Some(target) {
        return Ok(false);
    }
    let Some(service) = &run.ctx.spec.service else {
        return Ok(true);
    };
    let running = handle
        .runtime
        .current(Slot::Single)?
        .filter(|s| s.alive && &s.instance.release == target);
    let healthy = match (&service.health, running) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(health), Some(state)) => handle
            .probe
            .probe_once(service.port, health, target, Some(state.instance.pid))
            .is_ok(),
    };
    Ok(healthy)
}

/// The instance serves healthily; if it was never handed to the supervisor (a run cut short
/// before that), it is now.
pub(crate) fn keep_supervised(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    service: &Service,
) -> Result<()> {
    let supervised = handle
        .runtime
        .current(Slot::Single)?
        .is_some_and(|state| state.supervision.is_some());
    match supervised {
        true => Ok(()),
        false => hand_over(run.ctx, handle, Slot::Single, service),
    }
}

/// `target` is live but its instance does not serve (killed, crash-looping, unhealthy, or
/// gone after a reboot): start it again in place, probe it, hand it to the supervisor.
pub(crate) fn revive(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    service: &Service,
    target: &ReleaseId,
) -> Result<()> {
    let address = handle.host.address();
    if let Some(state) = handle.runtime.current(Slot::Single)? {
        let how = match (run.action, state.alive) {
            (hoist_core::Action::Restart, _) => "is restarted",
            (_, true) => "is not healthy",
            (_, false) => "is not running",
        };
        run.ctx.progress.note(&format!(
            "{address}: the instance of `{}` (pid {}) {how}; starting it again",
            state.instance.release, state.instance.pid
        ));
    }
    handle.runtime.stop(Slot::Single, service.stop_grace)?;
    start_instance(run, handle, service, target)?;
    if let Some(health) = &service.health {
        let owner = instance_group(handle)?;
        let report = handle
            .probe
            .wait_healthy(service.port, health, target, owner);
        if !report.healthy {
            let log_tail = handle
                .runtime
                .log_tail(target, 20)
                .unwrap_or_else(|e| format!("(no log: {e})"));
            return Err(Error::failed(format!(
                "the live release `{target}` does not pass its health check on `{address}` after a restart"
            ))
            .cause(format!(
                "{}; last answers: {}",
                health.check.describe(service.port),
                report.last_answers.join(", ")
            ))
            .cause(format!("service log:\n{log_tail}"))
            .hint("the release did not change: look at the service log and what it depends on, then `hoist deploy` again"));
        }
        run.ctx.progress.note(&format!(
            "{address}: healthy after {} tries ({:.1}s)",
            report.attempts,
            report.elapsed.as_secs_f64()
        ));
    }
    hand_over(run.ctx, handle, Slot::Single, service)
}

/// One host: returns the release that was live before.
pub(crate) fn make_live(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    target: &ReleaseId,
    mode: RunMode,
    previous: Option<ReleaseId>,
) -> Result<Option<ReleaseId>> {
    let ctx = run.ctx;
    let hooks = &ctx.spec.hooks;
    let address = handle.host.address();
    let start_env = start_hook_env(run, target, previous.as_ref());

    if mode == RunMode::Forward && !hooks.refresh.is_empty() && previous.is_some() {
        handle.host.switch_live(target)?;
        run_hooks(
            handle,
            &hooks.refresh,
            &ExecDir::Release(target.clone()),
            &start_env,
            "refresh",
        )?;
        // The refreshed instance serves the new release now (it reloads from `live`): its
        // record, what the supervisor would start again, and the store's live instance say so.
        if ctx.spec.service.is_some() {
            handle.runtime.relabel(Slot::Single, target)?;
            if let Some(state) = handle.runtime.current(Slot::Single)? {
                record_live_instance(run, handle, Slot::Single, &state.instance)?;
            }
        }
    } else {
        if let Some(live) = &previous {
            let stopped = run_hooks(
                handle,
                &hooks.stop,
                &ExecDir::Release(live.clone()),
                &stop_hook_env(run, live, target),
                "stop",
            );
            match (stopped, mode) {
                (Err(error), RunMode::Rollback) => ctx
                    .progress
                    .note(&format!("{address}: ignoring a failed stop hook: {error}")),
                (result, _) => result?,
            }
        }
        if let Some(service) = &ctx.spec.service {
            handle.runtime.stop(Slot::Single, service.stop_grace)?;
        }
        failpoint::hit("run.after_stop");
        handle.host.switch_live(target)?;
        failpoint::hit("run.after_switch");
        if let Some(service) = &ctx.spec.service
            && let Err(error) = start_instance(run, handle, service, target)
        {
            // Nothing serves now: the old release goes back before the error is reported.
            let failure = error.context(format!(
                "release `{target}` could not be started on `{address}`"
            ));
            let old = previous_service(handle, previous.as_ref(), service);
            return Err(put_back(run, handle, &old, target, previous, failure));
        }
        failpoint::hit("run.after_start");
        run_hooks(
            handle,
            &hooks.start,
            &ExecDir::Release(target.clone()),
            &start_env,
            "start",
        )?;
    }

    let Some(service) = &ctx.spec.service else {
        return Ok(previous);
    };
    let Some(health) = &service.health else {
        hand_over(run.ctx, handle, Slot::Single, service)?;
        return Ok(previous);
    };
    let owner = instance_group(handle)?;
    let report = handle
        .probe
        .wait_healthy(service.port, health, target, owner);
    if report.healthy {
        ctx.progress.note(&format!(
            "{address}: healthy after {} tries ({:.1}s)",
            report.attempts,
            report.elapsed.as_secs_f64()
        ));
        hand_over(run.ctx, handle, Slot::Single, service)?;
        return Ok(previous);
    }
    let log_tail = handle
        .runtime
        .log_tail(target, 20)
        .unwrap_or_else(|e| format!("(no log: {e})"));
    let failure = Error::failed(format!(
        "release `{target}` failed its health check on `{address}`"
    ))
    .cause(format!(
        "{}; last answers: {}",
        health.check.describe(service.port),
        report.last_answers.join(", ")
    ))
    .cause(format!("service log:\n{log_tail}"));
    let old = previous_service(handle, previous.as_ref(), service);
    Err(put_back(run, handle, &old, target, previous, failure))
}

/// The service as `release` was deployed with it — its command, port and health check from
/// its `release.json` — so putting it back starts and probes it as it ran before. Releases of
/// older hoist versions recorded no health check: the current one stands in.
fn previous_service(
    handle: &HostHandle,
    release: Option<&ReleaseId>,
    current: &Service,
) -> Service {
    let mut service = current.clone();
    let Some(release) = release else {
        return service;
    };
    let Ok(releases) = handle.host.releases() else {
        return service;
    };
    let Some(recorded) = releases
        .infos
        .get(release)
        .and_then(|info| info.config_snapshot.get("service"))
        .filter(|value| value.is_object())
    else {
        return service;
    };
    if let (Some(recorded), Workload::Process { command }) = (
        recorded.get("command").and_then(|v| v.as_str()),
        &mut service.workload,
    ) {
        recorded.clone_into(command);
    }
    if let Some(port) = recorded
        .get("port")
        .and_then(serde_json::Value::as_u64)
        .and_then(|port| u16::try_from(port).ok())
    {
        service.port = port;
    }
    match recorded.get("health") {
        Some(serde_json::Value::Null) => service.health = None,
        Some(health) => {
            let parsed = serde_json::from_value::<WireHealth>(health.clone())
                .ok()
                .and_then(|wire| Health::try_from(wire).ok());
            if let Some(health) = parsed {
                service.health = Some(health);
            }
        }
        None => {}
    }
    service
}

/// After a failed start or probe: stop the new instance, switch back to the previous release,
/// start it again as it was deployed (`service`), wait until it answers, hand it to the
/// supervisor, and mark the new release failed. Returns the error to report.
fn put_back(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    service: &Service,
    target: &ReleaseId,
    previous: Option<ReleaseId>,
    failure: Error,
) -> Error {
    let ctx = run.ctx;
    let address = handle.host.address();
    if let Err(error) = handle.runtime.stop(Slot::Single, service.stop_grace) {
        return failure.cause(format!("and stopping it failed: {error}"));
    }
    let Some(previous) = previous.filter(|p| p != target) else {
        return failure.hint("nothing older to go back to; fix the service and deploy again");
    };
    let restored = handle
        .host
        .switch_live(&previous)
        .and_then(|()| {
            handle
                .host
                .mark_failed(target, "failed to start or its health check")
        })
        .and_then(|()| start_instance(run, handle, service, &previous).map(|_| ()));
    match restored {
        Ok(()) => {
            // Wait for the old release to answer again, so "serves again" is true when said.
            let serving = service.health.as_ref().is_none_or(|health| {
                let owner = instance_group(handle).unwrap_or(None);
                handle
                    .probe
                    .wait_healthy(service.port, health, &previous, owner)
                    .healthy
            });
            let how = match serving {
                true => "which serves again",
                false => "which has not passed its health check yet",
            };
            if serving && let Err(error) = hand_over(run.ctx, handle, Slot::Single, service) {
                ctx.progress.note(&format!(
                    "{address}: could not hand `{previous}` to the supervisor: {error}"
                ));
            }
            ctx.progress
                .note(&format!("{address}: switched back to `{previous}`, {how}"));
            let _ = set_record_status(run, target, ReleaseStatus::Failed);
            failure.hint(format!(
                "`{previous}` is serving again; fix the service and deploy again"
            ))
        }
        Err(error) => failure.cause(format!("and putting `{previous}` back failed: {error}")),
    }
}

fn start_instance(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    service: &Service,
    release: &ReleaseId,
) -> Result<()> {
    let spec = instance_spec(
        &run.ctx.spec.app.name,
        &run.env_name,
        service,
        release,
        service.port,
    );
    let instance = handle.runtime.start(Slot::Single, &spec)?;
    record_live_instance(run, handle, Slot::Single, &instance)?;
    run.ctx.progress.note(&format!(
        "{}: started `{release}` (pid {}) on port {}",
        handle.host.address(),
        instance.pid,
        instance.port
    ));
    Ok(())
}

/// The recorded instance's process group (its pid leads it): the probe counts only its
/// answers. `None` when nothing is recorded (refresh hooks reload a service hoist did not
/// start).
fn instance_group(handle: &HostHandle) -> Result<Option<u32>> {
    Ok(handle
        .runtime
        .current(Slot::Single)?
        .map(|state| state.instance.pid))
}

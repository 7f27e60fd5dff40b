//! `run` with `strategy = "recreate"` (or no service) on one host: stop hooks, stop the old
//! instance, switch `live` atomically, start the new one, start hooks, then the health probe;
//! or, when `refresh` hooks are given, switch and refresh. A failed probe puts the old
//! release back (switch, start) and marks the new one failed.

use hoist_core::spec::Service;
use hoist_core::{ReleaseId, ReleaseStatus};

use crate::error::{Error, Result};
use crate::failpoint;
use crate::ops::command_run::CommandRun;
use crate::ops::run::{RunMode, hook_env, record_live_instance, run_hooks, set_record_status};
use crate::ports::HostHandle;
use crate::ports::host::ExecDir;
use crate::ports::runtime::{InstanceSpec, Slot};

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
    let hook_env = hook_env(run, target);

    if mode == RunMode::Forward && !hooks.refresh.is_empty() && previous.is_some() {
        handle.host.switch_live(target)?;
        run_hooks(
            handle,
            &hooks.refresh,
            &ExecDir::Release(target.clone()),
            &hook_env,
            "refresh",
        )?;
    } else {
        if let Some(live) = &previous {
            let stopped = run_hooks(
                handle,
                &hooks.stop,
                &ExecDir::Release(live.clone()),
                &hook_env,
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
        if let Some(service) = &ctx.spec.service {
            start_instance(run, handle, service, target)?;
        }
        failpoint::hit("run.after_start");
        run_hooks(
            handle,
            &hooks.start,
            &ExecDir::Release(target.clone()),
            &hook_env,
            "start",
        )?;
    }

    let Some(service) = &ctx.spec.service else {
        return Ok(previous);
    };
    let Some(health) = &service.health else {
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
    Err(put_back(run, handle, service, target, previous, failure))
}

/// After a failed probe: stop the new instance, switch back to the previous release, start it
/// again and mark the new release failed. Returns the error to report.
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
        .and_then(|()| handle.host.mark_failed(target, "failed its health check"))
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
    let spec = InstanceSpec {
        release: release.clone(),
        command: service.command.clone(),
        port: service.port,
        env: vec![("HOIST_ENV".to_owned(), run.env_name.to_string())],
    };
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

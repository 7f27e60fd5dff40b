//! `check --fix`: under the environment's lock, on every host, stop what no record owns —
//! stray processes carrying this root's mark, blue-green instances the route does not name —
//! clear records of dead instances, and start the built-in proxy again if it died. Then, for a
//! running environment, converge what runs to what is recorded as `deploy` does: the live
//! release's instance started again where it is dead or unhealthy, the supervisor and the boot
//! entry put back. It never changes which release is live.

use hoist_core::spec::{Service, Strategy};
use hoist_core::{Action, EnvName, EnvState};

use crate::error::Result;
use crate::ops::command_run::CommandRun;
use crate::ops::context::Context;
use crate::ops::convergence::host_gaps;
use crate::ops::fleet;
use crate::ops::host_results::record_host_results;
use crate::ops::run::blue_green::SlotPair;
use crate::ops::run::{RunMode, run_step};
use crate::ports::HostHandle;
use crate::ports::router::{ProxyStart, RouteConfig};
use crate::ports::runtime::Slot;

/// Repairs every host; returns what was done, one line each (`host: what`).
pub(crate) fn repair(ctx: &Context<'_>, env: &EnvName) -> Result<Vec<String>> {
    ctx.env_spec(env)?;
    let mut run = CommandRun::begin(ctx, Action::Repair, env, serde_json::json!({}))?;
    let result = run.connect_hosts().and_then(|()| {
        run.step("repair", None, |run| {
            let parallel = run.parallel()?;
            let repaired = fleet::across(&run.hosts, parallel, |_, handle| {
                repair_host(run.ctx.spec.service.as_ref(), handle)
            });
            record_host_results(run, "repair", &repaired)?;
            let mut done = Vec::new();
            for (handle, result) in run.hosts.iter().zip(repaired.results) {
                if let Some(Ok(lines)) = result {
                    let address = handle.host.address();
                    done.extend(lines.into_iter().map(|line| format!("{address}: {line}")));
                }
            }
            done.extend(converge(run)?);
            Ok(done)
        })
    });
    let done = run.finish(result)?;
    for line in &done {
        ctx.progress.note(&format!("fixed {line}"));
    }
    Ok(done)
}

/// A running environment's hosts brought back to what is recorded (the run step `deploy`
/// adds when only what runs differs); one line per host that had a gap.
fn converge(run: &mut CommandRun<'_>) -> Result<Vec<String>> {
    let env = run.env.as_ref();
    let Some(live) = env
        .filter(|env| env.state == EnvState::Running)
        .and_then(|env| env.live_release.clone())
    else {
        return Ok(Vec::new());
    };
    let service = run.ctx.spec.service.as_ref();
    let gaps = fleet::map_parallel(&run.hosts, |handle| host_gaps(handle, service, &live));
    let mut done = Vec::new();
    for (handle, gaps) in run.hosts.iter().zip(gaps) {
        let gaps = gaps?;
        if !gaps.is_empty() {
            done.push(format!(
                "{}: converged ({})",
                handle.host.address(),
                gaps.join("; ")
            ));
        }
    }
    if !done.is_empty() {
        run_step(run, &live, RunMode::Forward, None)?;
    }
    Ok(done)
}

fn repair_host(service: Option<&Service>, handle: &HostHandle) -> Result<Vec<String>> {
    let mut done = Vec::new();
    let grace = service.map_or(std::time::Duration::from_secs(10), |s| s.stop_grace);
    for stray in handle.runtime.strays()? {
        if handle.runtime.stop_stray(&stray, grace)? {
            done.push(format!(
                "stopped stray {} ({} mark, `{}`)",
                stray.what(),
                stray.slot,
                stray.command
            ));
        }
    }
    let Some(service) = service else {
        return Ok(done);
    };
    if service.strategy == Strategy::Recreate {
        if let Some(state) = handle.runtime.current(Slot::Single)?
            && !state.alive
        {
            handle.runtime.stop(Slot::Single, grace)?;
            done.push(format!(
                "cleared the record of dead instance `{}` (pid {})",
                state.instance.release, state.instance.pid
            ));
        }
        return Ok(done);
    }
    let config = RouteConfig::for_service(service);
    let pair = SlotPair::read(handle, &config)?;
    if pair.route.proxy.is_some() {
        match handle.router.ensure_proxy(&config)? {
            ProxyStart::Restarted => done.push("started the dead proxy again".to_owned()),
            ProxyStart::Started => done.push("started the proxy".to_owned()),
            ProxyStart::Running | ProxyStart::External => {}
        }
    }
    let routed = pair.routed().map(|(slot, _)| slot);
    for slot in Slot::PAIR {
        let Some(state) = pair.slot(slot) else {
            continue;
        };
        if routed == Some(slot) {
            continue;
        }
        if state.alive && routed.is_none() {
            // The route names nothing alive: this may be the only good instance left.
            continue;
        }
        handle.runtime.stop(slot, grace)?;
        let what = match state.alive {
            true => "stopped the unrouted",
            false => "cleared the record of dead",
        };
        done.push(format!(
            "{what} {slot} instance `{}` (pid {})",
            state.instance.release, state.instance.pid
        ));
    }
    Ok(done)
}

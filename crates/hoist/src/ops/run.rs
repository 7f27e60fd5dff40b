//! `run`: make the pending release live on every host (rolling with `parallel`/`canary`),
//! by the service's strategy: `recreate` (run/recreate.rs: stop hooks, stop the old
//! instance, switch `live`, start the new one, start hooks, probe; a failure puts the old
//! release back) or `blue-green` (run/blue_green.rs: start the new slot on a free port,
//! probe, swap the proxy's route, then stop the old slot); with `refresh` hooks, switch and
//! refresh. An unchanged tree whose hosts drifted is revived in place (no hooks). Supervision
//! and the boot entry are put back after every run.

use hoist_core::spec::{Strategy, Workload};
use hoist_core::{Action, EnvName, EnvState, ReleaseId, ReleaseStatus, Step};

use crate::error::{Error, Result};
use crate::ops::command_run::CommandRun;
use crate::ops::context::Context;
use crate::ops::fleet;
use crate::ops::host_results::{HostStepDetail, record_host_results};
use crate::ops::outcome::CommandOutcome;
use crate::ops::report;
use crate::ops::supervision::ensure_keepers;
use crate::ports::HostHandle;
use crate::ports::runtime::{Instance, Slot};
use crate::ports::store::LiveInstance;

pub(crate) mod blue_green;
pub(crate) mod hooks;
pub(crate) mod recreate;
pub(crate) mod static_site;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub env: EnvName,
}

/// Why a release is being made live: rollback never uses refresh hooks (assume the
/// current release is broken) and tolerates failing stop hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    Forward,
    Rollback,
}

pub fn run(ctx: &Context<'_>, options: &RunOptions) -> Result<CommandOutcome> {
    ctx.env_spec(&options.env)?;
    let mut run = CommandRun::begin(ctx, Action::Run, &options.env, serde_json::json!({}))?;
    let result = run.connect_hosts().and_then(|()| {
        run.step("run", Some(Step::Run), |run| {
            let target = run_target(run)?;
            run_step(run, &target, RunMode::Forward, None)?;
            Ok(target)
        })
    });
    report::finish_with(run, result, |id| {
        format!("release `{id}` is live in `{}`", options.env)
    })
}

/// The release `run` makes live: the pending one, else the live one again.
pub(crate) fn run_target(run: &CommandRun<'_>) -> Result<ReleaseId> {
    let env = run.env.as_ref();
    env.and_then(|e| e.pending_release.clone().or_else(|| e.live_release.clone()))
        .ok_or_else(|| {
            Error::failed(format!(
                "environment `{}` has no release to run",
                run.env_name
            ))
            .hint(format!(
                "make one with `{}`",
                run.ctx.command_line("release", &run.env_name)
            ))
        })
}

/// Makes `target` live on every host — canary first, then `parallel` at a time, halting at
/// the first failure — and records it. Hosts already serving `target` healthily are skipped,
/// so running it again after a halt finishes the hosts that are left.
pub(crate) fn run_step(
    run: &mut CommandRun<'_>,
    target: &ReleaseId,
    mode: RunMode,
    known_live: Option<&[Option<ReleaseId>]>,
) -> Result<()> {
    let ctx = run.ctx;
    let rollout = ctx.env_spec(&run.env_name)?.rollout;
    let outcome = {
        let shared: &CommandRun<'_> = run;
        fleet::rollout(&shared.hosts, rollout, |index, handle| {
            let live = known_live.and_then(|known| known.get(index).cloned());
            make_live_once(shared, handle, target, mode, live)
        })
    };
    record_host_results(run, "run", &outcome)?;
    if let Some((index, error)) = outcome.first_failure() {
        let error = error.clone();
        let address = run.hosts[index].host.address().to_string();
        let (done, left) = (outcome.succeeded(), outcome.not_reached());
        forget_failed_target(run, index, target)?;
        if run.hosts.len() == 1 {
            return Err(error);
        }
        return Err(error
            .context(format!("run of `{target}` halted: host `{address}` failed"))
            .cause(format!(
                "{done} host(s) finished, {left} not reached (they keep their release)"
            )));
    }
    let previous = outcome
        .results
        .iter()
        .flatten()
        .find_map(|result| match result {
            Ok(HostRun::Switched { previous }) => previous.clone(),
            _ => None,
        });
    let env = run.env_mut()?;
    env.live_release = Some(target.clone());
    if env.pending_release.as_ref() == Some(target) || mode == RunMode::Rollback {
        env.pending_release = None;
    }
    run.save_env()?;
    set_record_status(run, target, ReleaseStatus::Live)?;
    if let Some(previous) = previous.filter(|p| p != target) {
        set_record_status(run, &previous, ReleaseStatus::Retired)?;
    }
    run.event("release.live", format!("release {target} is live"))
}

/// What `run` did on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostRun {
    /// It already served the release, healthily: nothing was done.
    AlreadyLive,
    /// The release was live but its instance was not serving: it was started again.
    Revived,
    /// Switched, from the release that was live before.
    Switched { previous: Option<ReleaseId> },
}

fn make_live_once(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    target: &ReleaseId,
    mode: RunMode,
    known_live: Option<Option<ReleaseId>>,
) -> Result<HostRun> {
    let live = match known_live {
        Some(live) => live,
        None => handle.host.releases()?.live,
    };
    let address = handle.host.address();
    let outcome = match &run.ctx.spec.service {
        Some(service) if let Workload::Static { dir } = &service.workload => {
            static_site::make_live(run, handle, service, dir, target, live)?
        }
        Some(service) if service.strategy == Strategy::BlueGreen => blue_green::make_live(
            run,
            handle,
            service,
            target,
            live,
            blue_green::Swap::IfNeeded,
        )?,
        service => {
            if recreate::serves_healthily(run, handle, target, live.as_ref())? {
                if let Some(service) = service {
                    recreate::keep_supervised(run, handle, service)?;
                }
                run.ctx
                    .progress
                    .note(&format!("{address}: already serves `{target}`"));
                HostRun::AlreadyLive
            } else if live.as_ref() == Some(target)
                && let Some(service) = service
            {
                // The release is live but its instance is not serving: start it again, with
                // no hooks (no release changes hands).
                recreate::revive(run, handle, service, target)?;
                HostRun::Revived
            } else {
                recreate::make_live(run, handle, target, mode, live)
                    .map(|previous| HostRun::Switched { previous })?
            }
        }
    };
    for done in ensure_keepers(handle)? {
        run.ctx.progress.note(&format!("{address}: {done}"));
    }
    Ok(outcome)
}

/// After a failed run on host `index`: the store follows what that host now serves, and a
/// release marked failed is no longer pending.
fn forget_failed_target(run: &mut CommandRun<'_>, index: usize, target: &ReleaseId) -> Result<()> {
    // The host may be the very thing that failed (unreachable): then there is nothing to learn.
    let Ok(host_releases) = run.hosts[index].host.releases() else {
        return Ok(());
    };
    let target_failed = host_releases
        .infos
        .get(target)
        .is_some_and(|info| info.status == ReleaseStatus::Failed);
    let env = run.env_mut()?;
    env.live_release = host_releases.live;
    if target_failed {
        env.pending_release = None;
    }
    run.save_env()
}

pub(crate) fn set_record_status(
    run: &CommandRun<'_>,
    id: &ReleaseId,
    status: ReleaseStatus,
) -> Result<()> {
    let store = run.ctx.store;
    if let Some(mut record) = store
        .releases(&run.env_name)?
        .into_iter()
        .find(|r| &r.id == id)
    {
        record.status = status;
        store.save_release(&record)?;
    }
    Ok(())
}

/// Whether the environment is in a state where `run` makes sense (for `deploy`).
pub(crate) fn has_release(state: Option<EnvState>) -> bool {
    matches!(state, Some(EnvState::Released | EnvState::Running))
}

/// Records `instance` (in `slot`) as the one serving this host, in the store.
pub(crate) fn record_live_instance(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    slot: Slot,
    instance: &Instance,
) -> Result<()> {
    run.ctx.store.save_live_instance(&LiveInstance {
        env: run.env_name.clone(),
        host: handle.host.address().to_string(),
        slot,
        release: instance.release.clone(),
        pid: instance.pid,
        port: instance.port,
        recorded_at: run.ctx.clock.now(),
    })
}

impl HostStepDetail for HostRun {
    fn detail(&self) -> String {
        match self {
            Self::AlreadyLive => "already served it".to_owned(),
            Self::Revived => "started its instance again".to_owned(),
            Self::Switched {
                previous: Some(previous),
            } => format!("switched from `{previous}`"),
            Self::Switched { previous: None } => "switched (nothing was live)".to_owned(),
        }
    }
}

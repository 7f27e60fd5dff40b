//! `deploy`: the porcelain. Reads the recorded state, works out which steps are left (all of
//! them for a new environment; release + run for a changed tree; nothing when nothing
//! changed) and runs them in-process, so a failure or a crash is simply continued next time.

use hoist_core::deploy_plan::{ContentKey, DeployInputs, deploy_plan};
use hoist_core::{Action, EnvName, ReleaseId, ReleaseStatus, Step};

use hoist_core::schedule::{DEFAULT_START_WITHIN, When};

use crate::error::Result;
use crate::ops::command_request::CommandRequest;
use crate::ops::command_run::CommandRun;
use crate::ops::commands;
use crate::ops::configure::configure_step;
use crate::ops::context::Context;
use crate::ops::continuation::Continuation;
use crate::ops::convergence::host_gaps;
use crate::ops::create::create_step;
use crate::ops::outcome::CommandOutcome;
use crate::ops::provision::provision_step;
use crate::ops::release::{PreparedRelease, prepare, release_step};
use crate::ops::releases::prune_hosts;
use crate::ops::report;
use crate::ops::run::{RunMode, has_release, run_step, run_target};

#[derive(Debug, Clone)]
pub struct DeployOptions {
    pub env: EnvName,
    /// Schedule the environment's `destroy` this long after a success (previews).
    pub ttl: Option<std::time::Duration>,
    /// Accept deploy roots that hold files hoist did not put there (`--adopt`).
    pub adopt: bool,
}

pub fn deploy(ctx: &Context<'_>, options: &DeployOptions) -> Result<CommandOutcome> {
    ctx.env_spec(&options.env)?;
    let mut run = CommandRun::begin(ctx, Action::Deploy, &options.env, serde_json::json!({}))?;
    run.adopt = options.adopt;
    run.continue_with(Some(Continuation::deploy(
        &options.env,
        options.adopt,
        options.ttl,
    )));
    let result = deploy_steps(&mut run);
    let env = options.env.clone();
    let mut outcome = report::finish_with(run, result, |plan: &Vec<Step>| match plan.is_empty() {
        true => format!("nothing to deploy: `{env}` already runs this tree and configuration"),
        false => format!("`{env}` is deployed"),
    })?;
    outcome.unchanged = outcome.steps.is_empty();
    if let Some(ttl) = options.ttl {
        let destroy = schedule_destroy(ctx, &options.env, ttl)?;
        let at = destroy
            .execute_at
            .map(|at| at.to_string())
            .unwrap_or_default();
        outcome.message = format!(
            "{}; its destroy is scheduled for {at} (command {})",
            outcome.message, destroy.id
        );
    }
    Ok(outcome)
}

/// `--ttl`: the preview environment destroys itself later, as a scheduled command asked by
/// whoever deployed it.
fn schedule_destroy(
    ctx: &Context<'_>,
    env: &EnvName,
    ttl: std::time::Duration,
) -> Result<crate::ports::store::CommandRecord> {
    let requested_token = match &ctx.claimed {
        Some(claimed) => ctx
            .store
            .command(claimed.id)?
            .and_then(|command| command.requested_token),
        None => None,
    };
    let scheduled = commands::schedule(
        ctx,
        &commands::ScheduleOptions {
            request: CommandRequest::Destroy {
                env: env.clone(),
                volumes: false,
            },
            when: When::In(ttl),
            start_within: DEFAULT_START_WITHIN,
            requested_token,
            requested_by: None,
        },
    )?;
    Ok(scheduled.command)
}

/// Returns the plan it ran.
fn deploy_steps(run: &mut CommandRun<'_>) -> Result<Vec<Step>> {
    let ctx = run.ctx;
    let mut prepared = None;
    if has_release(run.state()) {
        // The plan depends on whether the built tree differs from what runs: build first.
        ctx.progress
            .note("building to compare with the live release");
        match prepare(ctx, &run.env_name) {
            Ok(built) => prepared = Some(built),
            Err(error) => {
                run.record_step_failure(Step::Release, "release", &error)?;
                return Err(error);
            }
        }
    }
    let plan = match &prepared {
        Some(built) => {
            run.connect_hosts()?;
            let hosts_behind = hosts_behind(run)?;
            let mut plan = deploy_plan(&inputs(run, built, hosts_behind)?);
            // The tree and configuration match: what runs must match too.
            if !plan.contains(&Step::Run) && !converged(run)? {
                plan.push(Step::Run);
            }
            plan
        }
        None => hoist_core::lifecycle::steps_from(run.state()).to_vec(),
    };
    run.plan(plan.len());
    for step in &plan {
        if !matches!(step, Step::Create | Step::Provision) {
            run.connect_hosts()?;
        }
        match step {
            Step::Create => run.step("create", Some(Step::Create), create_step)?,
            Step::Provision => run.step("provision", Some(Step::Provision), provision_step)?,
            Step::Configure => run
                .step("configure", Some(Step::Configure), configure_step)
                .map(drop)?,
            Step::Release => run
                .step("release", Some(Step::Release), |run| {
                    let built = match prepared.take() {
                        Some(built) => built,
                        None => prepare(run.ctx, &run.env_name)?,
                    };
                    release_step(run, &built)
                })
                .map(drop)?,
            Step::Run => run.step("run", Some(Step::Run), |run| {
                let target = run_target(run)?;
                run_step(run, &target, RunMode::Forward, None)
            })?,
        }
    }
    // Also after a resumed deploy, whose plan is only `run`.
    if plan.contains(&Step::Release) || plan.contains(&Step::Run) {
        let keep = ctx.env_spec(&run.env_name)?.keep_releases;
        let removed = prune_hosts(run, keep)?;
        if removed > 0 {
            ctx.progress.note(&format!(
                "pruned {removed} old releases (keep_releases = {keep})"
            ));
        }
    }
    Ok(plan)
}

/// Whether every host serves the live release as recorded; says what differs where.
fn converged(run: &CommandRun<'_>) -> Result<bool> {
    let Some(live) = run.env.as_ref().and_then(|e| e.live_release.clone()) else {
        return Ok(true);
    };
    let service = run.ctx.spec.service.as_ref();
    let gaps =
        crate::ops::fleet::map_parallel(&run.hosts, |handle| host_gaps(handle, service, &live));
    let mut converged = true;
    for (handle, gaps) in run.hosts.iter().zip(gaps) {
        let gaps = gaps.unwrap_or_else(|error| vec![format!("cannot be read: {error}")]);
        for gap in gaps {
            converged = false;
            run.ctx
                .progress
                .note(&format!("{}: {gap}", handle.host.address()));
        }
    }
    if !converged {
        run.ctx
            .progress
            .note("the tree and configuration are live; converging what runs");
    }
    Ok(converged)
}

/// Whether any host does not serve the environment's live release (it joined since, or
/// was down during the last rollout).
fn hosts_behind(run: &CommandRun<'_>) -> Result<bool> {
    let expected = run.env.as_ref().and_then(|e| e.live_release.clone());
    let live = crate::ops::fleet::across(&run.hosts, run.hosts.len(), |_, handle| {
        handle.host.releases().map(|r| r.live)
    });
    let mut behind = false;
    for result in live.results.into_iter().flatten() {
        behind |= result? != expected;
    }
    Ok(behind)
}

fn inputs(
    run: &CommandRun<'_>,
    built: &PreparedRelease,
    hosts_behind: bool,
) -> Result<DeployInputs> {
    let releases = run.ctx.store.releases(&run.env_name)?;
    let key_of = |id: Option<&ReleaseId>, usable: fn(ReleaseStatus) -> bool| {
        id.and_then(|id| releases.iter().find(|r| &r.id == id))
            .filter(|r| usable(r.status))
            .map(|r| ContentKey {
                content_hash: r.content_hash.clone(),
                config_hash: r.config_hash.clone(),
            })
    };
    let env = run.env.as_ref();
    Ok(DeployInputs {
        state: run.state(),
        wanted: built.key(),
        live: key_of(env.and_then(|e| e.live_release.as_ref()), |_| true),
        pending: key_of(env.and_then(|e| e.pending_release.as_ref()), |s| {
            s == ReleaseStatus::Ready
        }),
        hosts_behind,
    })
}

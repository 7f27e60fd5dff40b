//! `rollback [--to ID]`: make the release before the live one (or the one named) live again
//! on every host — stop, switch, start, probe; never refresh.

use hoist_core::{Action, EnvName, ReleaseId};

use crate::error::{Error, Result};
use crate::ops::command_run::CommandRun;
use crate::ops::context::Context;
use crate::ops::fleet;
use crate::ops::outcome::CommandOutcome;
use crate::ops::report;
use crate::ops::run::{RunMode, run_step};

#[derive(Debug, Clone)]
pub struct RollbackOptions {
    pub env: EnvName,
    pub to: Option<ReleaseId>,
}

pub fn rollback(ctx: &Context<'_>, options: &RollbackOptions) -> Result<CommandOutcome> {
    ctx.env_spec(&options.env)?;
    let args = serde_json::json!({ "to": options.to });
    let mut run = CommandRun::begin(ctx, Action::Rollback, &options.env, args)?;
    let result = run.connect_hosts().and_then(|()| {
        run.step("rollback", None, |run| {
            let (target, live) = rollback_target(run, options.to.as_ref())?;
            run_step(run, &target, RunMode::Rollback, Some(&live))?;
            run.set_state_after(Action::Rollback)?;
            Ok(target)
        })
    });
    report::finish_with(run, result, |id| {
        format!("rolled back `{}` to `{id}`", options.env)
    })
}

/// Every host must agree on the target; the first host's chain decides it. The hosts are
/// read all at once.
/// Also returns what each host has live, so `run_step` need not ask again.
fn rollback_target(
    run: &CommandRun<'_>,
    to: Option<&ReleaseId>,
) -> Result<(ReleaseId, Vec<Option<ReleaseId>>)> {
    let mut target: Option<ReleaseId> = None;
    let mut live = Vec::with_capacity(run.hosts.len());
    let read = fleet::map_parallel(&run.hosts, |handle| handle.host.releases());
    for (handle, releases) in run.hosts.iter().zip(read) {
        let releases = releases?;
        live.push(releases.live.clone());
        let here = releases.chain.rollback_target(to).map_err(|error| {
            let hint = error.hint();
            Error::failed(format!(
                "cannot roll back `{}` on `{}`",
                run.env_name,
                handle.host.address()
            ))
            .cause(error)
            .hint(hint)
        })?;
        match &target {
            None => target = Some(here),
            Some(first) if *first != here => {
                return Err(Error::failed(format!(
                    "hosts disagree on the rollback target: `{first}` and `{here}` on `{}`",
                    handle.host.address()
                ))
                .hint("name the release with `--to ID`; `hoist check ENV` shows each host"));
            }
            Some(_) => {}
        }
    }
    let target = target
        .ok_or_else(|| Error::failed(format!("environment `{}` has no hosts", run.env_name)))?;
    Ok((target, live))
}

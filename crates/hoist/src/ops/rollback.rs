//! `rollback [--to ID]`: make the release before the live one (or the one named) live again
//! on every host — stop, switch, start, probe; never refresh. The switch brings back the
//! configuration the release was deployed with (`hostside::release_config`), and says so.

use hoist_core::release_chain::ChainError;
use hoist_core::{Action, EnvName, ReleaseId};

use crate::error::{Error, Result};
use crate::ops::command_run::CommandRun;
use crate::ops::context::Context;
use crate::ops::continuation::Continuation;
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
            // A refused target is not continued: the same command would be refused again.
            run.continue_with(None);
            let target = rollback_target(run, options.to.as_ref())?;
            // Once some hosts may have switched, only the named target continues exactly.
            let id = &target.id;
            run.continue_with(Some(Continuation::rollback_to(&run.env_name, id)));
            run_step(run, id, RunMode::Rollback, Some(&target.live))?;
            match target.without_config.as_slice() {
                [] => run
                    .ctx
                    .progress
                    .note(&format!("restored the configuration of `{id}`")),
                hosts => run.ctx.progress.note(&format!(
                    "release `{id}` kept no configuration of its own on {} (an older hoist \
                     made it): `config/` there stays as it was",
                    hosts.join(", ")
                )),
            }
            run.set_state_after(Action::Rollback)?;
            Ok(target.id)
        })
    });
    report::finish_with(run, result, |id| {
        format!("rolled back `{}` to `{id}`", options.env)
    })
}

/// What a rollback goes back to, as the hosts say.
struct RollbackTarget {
    id: ReleaseId,
    /// What each host has live, so `run_step` need not ask again.
    live: Vec<Option<ReleaseId>>,
    /// The hosts where the target kept no configuration of its own.
    without_config: Vec<String>,
}

/// Every host must agree on the target; the first host's chain decides it. The hosts are
/// read all at once.
fn rollback_target(run: &CommandRun<'_>, to: Option<&ReleaseId>) -> Result<RollbackTarget> {
    let mut target: Option<ReleaseId> = None;
    let mut live = Vec::with_capacity(run.hosts.len());
    let mut without_config = Vec::new();
    let read = fleet::map_parallel(&run.hosts, |handle| handle.host.releases());
    for (handle, releases) in run.hosts.iter().zip(read) {
        let releases = releases?;
        live.push(releases.live.clone());
        let here = releases.chain.rollback_target(to).map_err(|error| {
            let hint = match error {
                ChainError::Unknown(_) | ChainError::NotUsable { .. } => format!(
                    "`{}` shows the releases; a ready or retired one can be named with `--to ID`",
                    run.ctx.command_line("releases list", &run.env_name)
                ),
                _ => error.hint().to_owned(),
            };
            Error::failed(format!(
                "cannot roll back `{}` on `{}`",
                run.env_name,
                handle.host.address()
            ))
            .cause(error)
            .hint(hint)
        })?;
        if !releases
            .infos
            .get(&here)
            .is_some_and(|info| info.config_kept)
        {
            without_config.push(format!("`{}`", handle.host.address()));
        }
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
    let id = target
        .ok_or_else(|| Error::failed(format!("environment `{}` has no hosts", run.env_name)))?;
    Ok(RollbackTarget {
        id,
        live,
        without_config,
    })
}

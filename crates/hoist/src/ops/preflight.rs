//! What can be checked before a command is recorded to run later — its hosts answer, the
//! release it names exists — as warnings: a host may well be back by the command's time, so
//! none of them stops the scheduling. What can never work (an environment the spec lacks) is
//! refused by `commands::schedule` itself, and the permission is checked by the caller.

use crate::error::Result;
use crate::ops::command_request::CommandRequest;
use crate::ops::context::Context;
use crate::ops::fleet;
use crate::ops::host_targets::host_targets;

/// The warnings for `request`, one line each (empty: nothing found).
pub fn preflight(ctx: &Context<'_>, request: &CommandRequest) -> Result<Vec<String>> {
    let env = request.env();
    ctx.env_spec(env)?;
    let mut warnings = Vec::new();
    let targets = host_targets(ctx, env)?;
    if targets.is_empty() {
        warnings.push(format!(
            "`{env}` has no hosts: the command has nothing to act on"
        ));
    }
    let answers = fleet::map_parallel(&targets, |target| {
        ctx.hosts
            .connect(target)
            .map(|_| ())
            .map_err(|error| format!("{} does not answer now: {error}", target.address))
    });
    warnings.extend(answers.into_iter().filter_map(|answer| answer.err()));
    if let CommandRequest::Rollback { to: Some(id), .. } = request
        && !ctx
            .store
            .releases(env)?
            .iter()
            .any(|release| &release.id == id)
    {
        warnings.push(format!("`{env}` has no release `{id}` recorded now"));
    }
    Ok(warnings)
}

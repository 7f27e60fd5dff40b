//! Turning a finished `CommandRun` into its `CommandOutcome`.

use crate::error::Result;
use crate::ops::command_run::CommandRun;
use crate::ops::outcome::CommandOutcome;

/// Records the outcome and builds the report from what the run left in the store.
pub(crate) fn finish<T>(
    run: CommandRun<'_>,
    result: Result<T>,
    message: String,
) -> Result<CommandOutcome> {
    finish_with(run, result, |_| message)
}

/// Like `finish`, with a message built from the step's value.
pub(crate) fn finish_with<T>(
    run: CommandRun<'_>,
    result: Result<T>,
    message: impl FnOnce(&T) -> String,
) -> Result<CommandOutcome> {
    let ctx = run.ctx;
    let (command_id, action, env_name) = (run.command.id, run.action, run.env_name.clone());
    let value = run.finish(result)?;
    let env = ctx.store.environment(&env_name)?;
    let steps = ctx
        .store
        .command(command_id)?
        .map(|c| {
            c.steps
                .into_iter()
                .filter(|s| !s.step.contains(" @ "))
                .map(|s| s.step)
                .collect()
        })
        .unwrap_or_default();
    let url = ctx.service_url(&env_name);
    Ok(CommandOutcome {
        command_id,
        action,
        env: env_name,
        state: env.as_ref().map(|e| e.state),
        steps,
        release: env
            .as_ref()
            .and_then(|e| e.pending_release.clone().or_else(|| e.live_release.clone())),
        live_release: env.as_ref().and_then(|e| e.live_release.clone()),
        url,
        unchanged: false,
        message: message(&value),
    })
}

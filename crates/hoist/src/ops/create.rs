//! `create`: record an environment the spec defines. Touches no host.

use hoist_core::{Action, EnvName, EnvState, Step};

use crate::error::Result;
use crate::ops::command_run::CommandRun;
use crate::ops::context::Context;
use crate::ops::outcome::CommandOutcome;
use crate::ops::report;
use crate::ports::store::EnvironmentRecord;

#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub env: EnvName,
}

pub fn create(ctx: &Context<'_>, options: &CreateOptions) -> Result<CommandOutcome> {
    ctx.env_spec(&options.env)?;
    let mut run = CommandRun::begin(ctx, Action::Create, &options.env, serde_json::json!({}))?;
    let result = run.step("create", Some(Step::Create), create_step);
    report::finish(
        run,
        result,
        format!("environment `{}` is created", options.env),
    )
}

/// Writes a fresh record (replacing a destroyed one).
pub(crate) fn create_step(run: &mut CommandRun<'_>) -> Result<()> {
    let now = run.ctx.clock.now();
    run.env = Some(EnvironmentRecord {
        name: run.env_name.clone(),
        state: EnvState::Created,
        failure: None,
        live_release: None,
        pending_release: None,
        created_at: now,
        updated_at: now,
    });
    run.save_env()
}

//! `configure`: render the env file and config templates with vars and secrets and write
//! them into every host's `config/` (0700 directory, 0600 files).

use hoist_core::{Action, EnvName, Step};

use crate::error::Result;
use crate::ops::command_run::CommandRun;
use crate::ops::config_render;
use crate::ops::context::Context;
use crate::ops::fleet;
use crate::ops::outcome::CommandOutcome;
use crate::ops::report;

#[derive(Debug, Clone)]
pub struct ConfigureOptions {
    pub env: EnvName,
}

pub fn configure(ctx: &Context<'_>, options: &ConfigureOptions) -> Result<CommandOutcome> {
    ctx.env_spec(&options.env)?;
    let mut run = CommandRun::begin(ctx, Action::Configure, &options.env, serde_json::json!({}))?;
    let result = run
        .connect_hosts()
        .and_then(|()| run.step("configure", Some(Step::Configure), configure_step));
    report::finish_with(run, result, |files| {
        format!(
            "environment `{}` is configured ({files} files)",
            options.env
        )
    })
}

/// Renders once, writes to every host; returns how many files were written per host.
pub(crate) fn configure_step(run: &mut CommandRun<'_>) -> Result<usize> {
    let ctx = run.ctx;
    let env_spec = ctx.env_spec(&run.env_name)?;
    let files = config_render::render(
        ctx.spec,
        &ctx.spec_dir,
        &run.env_name,
        env_spec,
        ctx.secrets,
    )?;
    let parallel = env_spec.rollout.parallel as usize;
    fleet::across(&run.hosts, parallel, |_, handle| {
        handle.host.write_config(&files)
    })
    .ok()?;
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    run.event(
        "env.configured",
        format!("wrote config/{{{}}}", names.join(",")),
    )?;
    Ok(files.len())
}

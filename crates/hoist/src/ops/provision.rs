//! `provision`: create the deploy layout on every host and record what tools each has.

use hoist_core::spec::Strategy;
use hoist_core::{Action, EnvName, Step};

use crate::error::Result;
use crate::ops::command_run::CommandRun;
use crate::ops::context::Context;
use crate::ops::continuation::Continuation;
use crate::ops::fleet;
use crate::ops::infrastructure::run_provision_command;
use crate::ops::outcome::CommandOutcome;
use crate::ops::report;
use crate::ports::HostHandle;
use crate::ports::router::{ProxyStart, RouteConfig};
use crate::ports::runtime::Slot;

#[derive(Debug, Clone)]
pub struct ProvisionOptions {
    pub env: EnvName,
    /// Accept deploy roots that hold files hoist did not put there (`--adopt`).
    pub adopt: bool,
}

pub fn provision(ctx: &Context<'_>, options: &ProvisionOptions) -> Result<CommandOutcome> {
    ctx.env_spec(&options.env)?;
    let args = serde_json::json!({ "adopt": options.adopt });
    let mut run = CommandRun::begin(ctx, Action::Provision, &options.env, args)?;
    run.adopt = options.adopt;
    if options.adopt {
        run.continue_with(Some(Continuation::provision_adopting(&options.env)));
    }
    let result = run.step("provision", Some(Step::Provision), provision_step);
    let message = format!("environment `{}` is provisioned", options.env);
    report::finish(run, result, message)
}

/// Runs the provision command (registering the hosts it lists), connects to every host,
/// lays each out and records its tools as an event.
pub(crate) fn provision_step(run: &mut CommandRun<'_>) -> Result<()> {
    let registered = run_provision_command(run)?;
    if registered > 0 {
        run.ctx.progress.note(&format!(
            "the provision command listed {registered} host(s)"
        ));
    }
    run.connect_hosts()?;
    let parallel = run.parallel()?;
    let router = run
        .ctx
        .spec
        .service
        .as_ref()
        .filter(|service| service.strategy == Strategy::BlueGreen)
        .map(RouteConfig::for_service);
    let provisioned = fleet::across(&run.hosts, parallel, |_, handle| {
        let facts = handle.host.provision(run.adopt)?;
        if let Some(config) = &router
            && let Some(started) = start_router(handle, config)?
        {
            let address = handle.host.address();
            run.ctx.progress.note(&format!("{address}: {started}"));
        }
        Ok(facts)
    });
    provisioned.ok()?;
    for (handle, facts) in run.hosts.iter().zip(provisioned.results) {
        let Some(Ok(facts)) = facts else { continue };
        let tools: Vec<String> = facts
            .tools
            .iter()
            .map(|(tool, path)| format!("{tool}: {}", path.as_deref().unwrap_or("missing")))
            .collect();
        let summary = format!(
            "{} ({}/{}): {}",
            handle.host.address(),
            facts.os,
            facts.arch,
            tools.join(", ")
        );
        run.ctx.progress.note(&summary);
        run.event("host.provisioned", summary)?;
    }
    Ok(())
}

/// Starts the blue-green router (the built-in proxy, or a check that nginx is there) — unless
/// a recreate instance still holds the public port: the first blue-green `run` takes it over.
/// Returns what it started, for the progress.
fn start_router(handle: &HostHandle, config: &RouteConfig) -> Result<Option<&'static str>> {
    let single_alive = handle
        .runtime
        .current(Slot::Single)?
        .is_some_and(|state| state.alive);
    if single_alive {
        return Ok(None);
    }
    Ok(match handle.router.ensure_proxy(config)? {
        ProxyStart::Started => Some("started the proxy"),
        ProxyStart::Restarted => Some("the proxy was not running; started it again"),
        ProxyStart::Running | ProxyStart::External => None,
    })
}

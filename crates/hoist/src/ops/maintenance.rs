//! `maintenance on|off ENV`: every host's built-in proxy answers 503 with a short page (its
//! health paths still pass through, so probes keep working), or serves again. A recorded
//! command, under the environment's lock, like every change.

use hoist_core::spec::{Proxy, Strategy};
use hoist_core::{Action, EnvName};

use crate::error::{Error, Result};
use crate::ops::command_run::CommandRun;
use crate::ops::context::Context;
use crate::ops::continuation::Continuation;
use crate::ops::fleet;
use crate::ops::host_results::record_host_results;
use crate::ops::outcome::CommandOutcome;
use crate::ops::report;
use crate::ports::router::RouteConfig;

#[derive(Debug, Clone)]
pub struct MaintenanceOptions {
    pub env: EnvName,
    pub on: bool,
}

pub fn maintenance(ctx: &Context<'_>, options: &MaintenanceOptions) -> Result<CommandOutcome> {
    ctx.env_spec(&options.env)?;
    let config = match &ctx.spec.service {
        Some(service)
            if service.strategy == Strategy::BlueGreen && service.proxy == Proxy::Builtin =>
        {
            RouteConfig::for_service(service)
        }
        _ => {
            return Err(Error::failed(
                "maintenance mode needs a service behind the built-in proxy",
            )
            .hint("set `strategy = \"blue-green\"` in `[service]` (the proxy is `builtin` unless `proxy = \"nginx\"`)"));
        }
    };
    let args = serde_json::json!({ "on": options.on });
    let mut run = CommandRun::begin(ctx, Action::Maintenance, &options.env, args)?;
    run.continue_with(Some(Continuation::maintenance(&options.env, options.on)));
    let result = run.connect_hosts().and_then(|()| {
        run.step("maintenance", None, |run| {
            let parallel = run.parallel()?;
            let switched = fleet::across(&run.hosts, parallel, |_, handle| {
                handle.router.ensure_proxy(&config)?;
                handle.router.set_maintenance(&config, options.on)
            });
            record_host_results(run, "maintenance", &switched)?;
            switched.ok()?;
            let (kind, what) = match options.on {
                true => (
                    "maintenance.on",
                    "in maintenance: 503 for all but health paths",
                ),
                false => ("maintenance.off", "out of maintenance: serving"),
            };
            run.event(kind, format!("{} is {what}", run.env_name))
        })
    });
    let message = match options.on {
        true => format!(
            "`{}` is in maintenance; `{}` serves again",
            options.env,
            ctx.continuation_line(&Continuation::maintenance(&options.env, false))
        ),
        false => format!("`{}` serves again", options.env),
    };
    report::finish(run, result, message)
}

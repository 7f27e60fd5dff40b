//! `register ENV --host ADDR`: adopt an existing host into an environment (or forget one
//! with `--remove`). The next `deploy` provisions and deploys to it.

use hoist_core::{Action, EnvName, HostAddress, SshDestination, deploy_root};

use crate::error::{Error, Result};
use crate::ops::command_run::CommandRun;
use crate::ops::context::Context;
use crate::ops::continuation::Continuation;
use crate::ops::outcome::CommandOutcome;
use crate::ops::report;
use crate::ports::store::RegisteredHost;

#[derive(Debug, Clone)]
pub struct RegisterOptions {
    pub env: EnvName,
    pub hosts: Vec<HostAddress>,
    pub jump: Option<SshDestination>,
    pub remove: bool,
}

pub fn register(ctx: &Context<'_>, options: &RegisterOptions) -> Result<CommandOutcome> {
    let env_spec = ctx.env_spec(&options.env)?;
    if !options.remove
        && options
            .hosts
            .iter()
            .any(|h| matches!(h, HostAddress::Ssh(_)))
        && env_spec.root.is_none()
    {
        return Err(Error::failed(format!(
            "environment `{}` has no `root` for SSH hosts",
            options.env
        ))
        .hint(format!(
            "add `root = \"/srv/app\"` to `[env.{}]` first",
            options.env
        )));
    }
    let args = serde_json::json!({
        "hosts": options.hosts.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "jump": options.jump.as_ref().map(ToString::to_string),
        "remove": options.remove,
    });
    let mut run = CommandRun::begin(ctx, Action::Register, &options.env, args)?;
    run.continue_with(Some(Continuation::register(
        &options.env,
        &options.hosts,
        options.jump.as_ref(),
        options.remove,
    )));
    let result = run.step("register", None, |run| {
        for address in &options.hosts {
            if options.remove {
                if !run.ctx.store.unregister_host(&run.env_name, address)? {
                    return Err(Error::failed(format!(
                        "`{address}` is not a registered host of `{}`",
                        run.env_name
                    ))
                    .hint(
                        "`hoist status ENV` lists the hosts; hosts in Hoist.toml are removed there",
                    ));
                }
                run.event("host.unregistered", format!("{address} unregistered"))?;
            } else {
                register_one(run, address, options.jump.clone(), "register")?;
            }
        }
        Ok(options.hosts.len())
    });
    let verb = if options.remove {
        "unregistered"
    } else {
        "registered"
    };
    report::finish_with(run, result, |count| {
        format!(
            "{verb} {count} host(s) in `{}`; `{}` brings them up to date",
            options.env,
            ctx.command_line("deploy", &options.env)
        )
    })
}

/// Records one host of the environment (upserting it). A `local:` root that cannot be a
/// deploy root (`/etc`, a home directory itself…) is refused, as `spec check` refuses it.
pub(crate) fn register_one(
    run: &CommandRun<'_>,
    address: &HostAddress,
    jump: Option<SshDestination>,
    source: &str,
) -> Result<()> {
    if let Some(refusal) = address.local_root().and_then(deploy_root::refusal) {
        return Err(
            Error::failed(format!("cannot register `{address}`: {refusal}"))
                .hint(refusal.hint(&run.ctx.spec.app.name)),
        );
    }
    run.ctx.store.register_host(&RegisteredHost {
        env: run.env_name.clone(),
        address: address.clone(),
        jump,
        source: source.to_owned(),
        added_at: run.ctx.clock.now(),
    })?;
    run.event(
        "host.registered",
        format!("{address} registered ({source})"),
    )
}

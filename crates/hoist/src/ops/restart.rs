//! `restart ENV`: start the live release's instances again on every host, rolling like `run`
//! (canary first, `parallel` at a time, halting at the first failure) — blue-green through the
//! free slot with a probe and a swap, so no request fails; recreate in place, with a brief gap.
//! No hooks run (no release changes hands), and the release stays the same: a host whose
//! `live` differs from the environment's is refused, for `deploy` to bring it up to date.

use hoist_core::spec::{Service, Strategy};
use hoist_core::{Action, EnvName, ReleaseId};

use crate::error::{Error, Result};
use crate::ops::command_run::CommandRun;
use crate::ops::context::Context;
use crate::ops::host_results::record_host_results;
use crate::ops::outcome::CommandOutcome;
use crate::ops::run::HostRun;
use crate::ops::run::{blue_green, recreate};
use crate::ops::supervision::ensure_keepers;
use crate::ops::{fleet, report};
use crate::ports::HostHandle;

#[derive(Debug, Clone)]
pub struct RestartOptions {
    pub env: EnvName,
}

pub fn restart(ctx: &Context<'_>, options: &RestartOptions) -> Result<CommandOutcome> {
    ctx.env_spec(&options.env)?;
    let mut run = CommandRun::begin(ctx, Action::Restart, &options.env, serde_json::json!({}))?;
    let result = run.connect_hosts().and_then(|()| {
        run.step("restart", None, |run| {
            let service = run.ctx.spec.service.as_ref().ok_or_else(|| {
                Error::failed("the spec has no `[service]`: there is nothing to restart")
                    .hint("add a `[service]` table to Hoist.toml")
            })?;
            let live = run
                .env
                .as_ref()
                .and_then(|env| env.live_release.clone())
                .ok_or_else(|| {
                    Error::failed(format!("`{}` has no live release", run.env_name)).hint(format!(
                        "deploy it first: `{}`",
                        run.ctx.command_line("deploy", &run.env_name)
                    ))
                })?;
            let rollout = run.ctx.env_spec(&run.env_name)?.rollout;
            let outcome = {
                let shared: &CommandRun<'_> = run;
                fleet::rollout(&shared.hosts, rollout, |_, handle| {
                    restart_host(shared, handle, service, &live)
                })
            };
            record_host_results(run, "restart", &outcome)?;
            if let Some((index, error)) = outcome.first_failure() {
                let error = error.clone();
                if run.hosts.len() == 1 {
                    return Err(error);
                }
                let address = run.hosts[index].host.address().to_string();
                return Err(error
                    .context(format!("restart halted: host `{address}` failed"))
                    .cause(format!(
                        "{} host(s) restarted, {} not reached (they kept running as they were)",
                        outcome.succeeded(),
                        outcome.not_reached()
                    )));
            }
            run.event("instance.restart", format!("restarted release {live}"))?;
            Ok(live)
        })
    });
    report::finish_with(run, result, |id| {
        format!("restarted `{id}` in `{}`", options.env)
    })
}

fn restart_host(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    service: &Service,
    live: &ReleaseId,
) -> Result<HostRun> {
    let address = handle.host.address();
    let host_live = handle.host.releases()?.live;
    if host_live.as_ref() != Some(live) {
        return Err(Error::failed(format!(
            "`{address}` has {} live, not `{live}`",
            host_live.map_or_else(|| "nothing".to_owned(), |id| format!("`{id}`"))
        ))
        .hint(format!(
            "bring it up to date first: `{}`",
            run.ctx.command_line("deploy", &run.env_name)
        )));
    }
    let outcome = match service.strategy {
        Strategy::Recreate => {
            recreate::revive(run, handle, service, live)?;
            HostRun::Revived
        }
        Strategy::BlueGreen => blue_green::make_live(
            run,
            handle,
            service,
            live,
            Some(live.clone()),
            blue_green::Swap::Fresh,
        )?,
    };
    for done in ensure_keepers(handle)? {
        run.ctx.progress.note(&format!("{address}: {done}"));
    }
    Ok(outcome)
}

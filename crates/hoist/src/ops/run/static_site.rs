//! A static site: no process. The built-in proxy serves `<root>/live/<site>`, so switching
//! `live` is the deploy: each request resolves the link afresh and sees one release whole.
//! The route is set once (and again whenever it does not name the site), hooks run as for
//! recreate: stop hooks in the old release, start hooks in the new one.

use std::path::Path;

use hoist_core::ReleaseId;
use hoist_core::spec::Service;

use crate::error::Result;
use crate::ops::command_run::CommandRun;
use crate::ops::run::HostRun;
use crate::ops::run::blue_green::ensure_proxy;
use crate::ops::run::hooks::{run_hooks, start_hook_env, stop_hook_env};
use crate::ports::HostHandle;
use crate::ports::host::ExecDir;
use crate::ports::router::{RouteConfig, RouteState};

/// Whether the route serves `site` through the root's `live` link.
pub(crate) fn serves_site(route: &RouteState, site: &Path) -> bool {
    route.upstream.is_none()
        && route
            .static_root
            .as_ref()
            .is_some_and(|root| root.ends_with(Path::new("live").join(site)))
}

pub(crate) fn make_live(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    service: &Service,
    site: &Path,
    target: &ReleaseId,
    live: Option<ReleaseId>,
) -> Result<HostRun> {
    let ctx = run.ctx;
    let address = handle.host.address();
    let config = RouteConfig::for_service(service);
    ensure_proxy(run, handle, &config)?;
    let routed = serves_site(&handle.router.route(&config)?, site);
    if live.as_ref() == Some(target) {
        if routed {
            ctx.progress
                .note(&format!("{address}: already serves `{target}`"));
            return Ok(HostRun::AlreadyLive);
        }
        handle.router.set_static(&config, site)?;
        ctx.progress
            .note(&format!("{address}: the proxy serves `{target}` again"));
        return Ok(HostRun::Revived);
    }
    let hooks = &ctx.spec.hooks;
    if let Some(old) = &live {
        run_hooks(
            handle,
            &hooks.stop,
            &ExecDir::Release(old.clone()),
            &stop_hook_env(run, old, target),
            "stop",
        )?;
    }
    handle.host.switch_live(target)?;
    if !routed {
        handle.router.set_static(&config, site)?;
    }
    run_hooks(
        handle,
        &hooks.start,
        &ExecDir::Release(target.clone()),
        &start_hook_env(run, target, live.as_ref()),
        "start",
    )?;
    ctx.progress.note(&format!(
        "{address}: serves `{target}` from `{}`",
        site.display()
    ));
    Ok(HostRun::Switched { previous: live })
}

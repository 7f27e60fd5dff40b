//! `releases list|remove|prune`: the releases on an environment's hosts.

use hoist_core::{Action, EnvName, ReleaseId, ReleaseStatus};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ops::command_run::CommandRun;
use crate::ops::container_image;
use crate::ops::context::Context;
use crate::ops::continuation::Continuation;
use crate::ops::fleet;
use crate::ops::host_targets::host_targets;
use crate::ops::outcome::CommandOutcome;
use crate::ops::report;

/// One release as a host reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleaseRow {
    pub host: String,
    pub id: ReleaseId,
    pub status: ReleaseStatus,
    pub created_at: String,
    pub created_by: String,
    pub previous: Option<ReleaseId>,
    pub next: Option<ReleaseId>,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ListReleasesOptions {
    pub env: EnvName,
}

/// Reads every host's layout; read-only, so no command is recorded and no lock taken.
pub fn list_releases(ctx: &Context<'_>, options: &ListReleasesOptions) -> Result<Vec<ReleaseRow>> {
    let targets = host_targets(ctx, &options.env)?;
    let per_host = fleet::map_parallel(&targets, |target| -> Result<Vec<ReleaseRow>> {
        let handle = ctx.hosts.connect(target)?;
        let releases = handle.host.releases()?;
        let rows = releases.chain.ordered().into_iter().map(|meta| {
            let info = releases.infos.get(&meta.id);
            ReleaseRow {
                host: target.address.to_string(),
                id: meta.id.clone(),
                status: releases.chain.status_of(&meta.id).unwrap_or(meta.status),
                created_at: info.map(|i| i.created_at.clone()).unwrap_or_default(),
                created_by: info.map(|i| i.created_by.clone()).unwrap_or_default(),
                previous: meta.previous.clone(),
                next: meta.next.clone(),
                error: info.and_then(|i| i.error.clone()),
            }
        });
        Ok(rows.collect())
    });
    let mut rows = Vec::new();
    for host_rows in per_host {
        rows.extend(host_rows?);
    }
    Ok(rows)
}

#[derive(Debug, Clone)]
pub struct RemoveReleaseOptions {
    pub env: EnvName,
    pub id: ReleaseId,
}

pub fn remove_release(ctx: &Context<'_>, options: &RemoveReleaseOptions) -> Result<CommandOutcome> {
    ctx.env_spec(&options.env)?;
    let args = serde_json::json!({ "id": options.id });
    let mut run = CommandRun::begin(ctx, Action::Remove, &options.env, args)?;
    run.continue_with(Some(Continuation::remove(&options.env, &options.id)));
    let result = run.connect_hosts().and_then(|()| {
        run.step("remove", None, |run| {
            let mut found = false;
            for handle in &run.hosts {
                let releases = handle.host.releases()?;
                if releases.live.as_ref() == Some(&options.id) {
                    return Err(Error::failed(format!(
                        "release `{}` is live on `{}`",
                        options.id,
                        handle.host.address()
                    ))
                    .hint("roll back or deploy another release first, then remove this one"));
                }
                found |= releases.infos.contains_key(&options.id);
            }
            if !found {
                return Err(Error::failed(format!(
                    "release `{}` does not exist in `{}`",
                    options.id, options.env
                ))
                .hint(format!(
                    "`{}` shows the releases",
                    run.ctx.command_line("releases list", &options.env)
                )));
            }
            for handle in &run.hosts {
                if handle.host.releases()?.infos.contains_key(&options.id) {
                    handle.host.remove_release(&options.id)?;
                }
            }
            run.event("release.removed", format!("release {} removed", options.id))
        })
    });
    report::finish(
        run,
        result,
        format!("release `{}` removed from `{}`", options.id, options.env),
    )
}

#[derive(Debug, Clone)]
pub struct PruneOptions {
    pub env: EnvName,
    /// Overrides the spec's `keep_releases`.
    pub keep: Option<u32>,
}

pub fn prune(ctx: &Context<'_>, options: &PruneOptions) -> Result<CommandOutcome> {
    let keep = options
        .keep
        .unwrap_or(ctx.env_spec(&options.env)?.keep_releases)
        .max(1);
    let args = serde_json::json!({ "keep": keep });
    let mut run = CommandRun::begin(ctx, Action::Prune, &options.env, args)?;
    run.continue_with(Some(Continuation::prune(&options.env, options.keep)));
    let result = run
        .connect_hosts()
        .and_then(|()| run.step("prune", None, |run| prune_hosts(run, keep)));
    report::finish_with(run, result, |removed: &usize| {
        format!(
            "pruned {removed} releases from `{}`, keeping {keep}",
            options.env
        )
    })
}

/// Prunes every host; returns how many releases were removed in all.
pub(crate) fn prune_hosts(run: &CommandRun<'_>, keep: u32) -> Result<usize> {
    let parallel = run.parallel()?;
    let ctx = run.ctx;
    let service = ctx.spec.service.as_ref();
    let engine = container_image::engine_of(service);
    let pruned = fleet::across(&run.hosts, parallel, |_, handle| {
        let gone = handle.host.prune(keep as usize)?;
        let images =
            container_image::built_images(&ctx.spec.app.name, &run.env_name, service, &gone);
        if !images.is_empty() {
            handle.host.remove_images(&images, engine.as_deref())?;
        }
        Ok(gone)
    });
    pruned.ok()?;
    let mut removed = 0;
    for (handle, gone) in run.hosts.iter().zip(pruned.results) {
        let Some(Ok(gone)) = gone else { continue };
        for id in &gone {
            run.event(
                "release.pruned",
                format!("release {id} pruned on {}", handle.host.address()),
            )?;
        }
        removed += gone.len();
    }
    Ok(removed)
}

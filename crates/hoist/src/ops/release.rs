//! `release`: build locally, then on every host create `releases/<id>` (unchanged files
//! hard-linked to `live`, changed ones written new), run `post_upload` in it, and mark it
//! ready — the last thing, so a cut-off release is never mistaken for a complete one.

use hoist_core::deploy_plan::ContentKey;
use hoist_core::spec::{ImageSource, Workload};
use hoist_core::{Action, EnvName, ReleaseId, ReleaseStatus, Step};
use jiff::Timestamp;

use crate::error::{Error, Result};
use crate::failpoint;
use crate::hostside::exec;
use crate::known_secrets::KnownSecrets;
use crate::ops::command_run::{CommandRun, first_line};
use crate::ops::config_render::{self, ConfigSnapshot};
use crate::ops::container_image;
use crate::ops::context::Context;
use crate::ops::fleet;
use crate::ops::host_results::record_host_results;
use crate::ops::outcome::CommandOutcome;
use crate::ops::report;
use crate::ops::run::hooks::tail;
use crate::ports::HostHandle;
use crate::ports::host::{ExecDir, NewRelease, ReleaseInfo, UploadReport};
use crate::ports::store::ReleaseRecord;
use crate::source_tree::SourceTree;

#[derive(Debug, Clone)]
pub struct ReleaseOptions {
    pub env: EnvName,
}

/// A built tree and its configuration, ready to upload.
#[derive(Debug, Clone)]
pub struct PreparedRelease {
    pub tree: SourceTree,
    pub snapshot: ConfigSnapshot,
    /// The id of the image built from the `Containerfile`, if the service has one; folded
    /// into the tree's content hash.
    pub image: Option<String>,
}

impl PreparedRelease {
    pub fn key(&self) -> ContentKey {
        ContentKey {
            content_hash: self.tree.content_hash.clone(),
            config_hash: self.snapshot.hash.clone(),
        }
    }
}

pub fn release(ctx: &Context<'_>, options: &ReleaseOptions) -> Result<CommandOutcome> {
    ctx.env_spec(&options.env)?;
    let mut run = CommandRun::begin(ctx, Action::Release, &options.env, serde_json::json!({}))?;
    let result = run.connect_hosts().and_then(|()| {
        run.step("release", Some(Step::Release), |run| {
            let prepared = prepare(run.ctx, &run.env_name)?;
            release_step(run, &prepared)
        })
    });
    report::finish_with(run, result, |id| {
        format!(
            "release `{id}` is ready; start it with `{}`",
            ctx.command_line("run", &options.env)
        )
    })
}

/// Runs the build steps in the spec's directory and collects the tree to upload.
pub fn prepare(ctx: &Context<'_>, env: &EnvName) -> Result<PreparedRelease> {
    for command in &ctx.spec.build.steps {
        ctx.progress.note(&format!("build: {command}"));
        let output =
            exec::run_controller_shell(&ctx.spec_dir, command, &[], &ctx.spec.build.pass_env)?;
        if output.status != 0 {
            return Err(Error::failed(format!(
                "build step `{command}` exited with status {}",
                output.status
            ))
            .cause(tail(&output.output, 20))
            .hint("run the build step by hand in the spec's directory to see why")
            .hint("build steps see only PATH, HOME, USER, LOGNAME, LANG, LC_*, TERM, TZ, TMPDIR and SHELL of your environment; list any other variable they need in `[build] pass_env`"));
        }
    }
    let mut tree = SourceTree::collect(&ctx.spec_dir, &ctx.spec.build)?;
    let image = match container_image::built_container(ctx.spec.service.as_ref()) {
        Some(container) => {
            if let ImageSource::Build { containerfile, .. } = &container.image {
                ctx.progress
                    .note(&format!("build: image from `{}`", containerfile.display()));
            }
            let id = container_image::build(&ctx.spec_dir, &ctx.spec.app.name, env, container)?;
            tree.content_hash = blake3::hash(format!("{}\n{id}", tree.content_hash).as_bytes())
                .to_hex()
                .to_string();
            Some(id)
        }
        None => None,
    };
    let snapshot = config_render::snapshot(ctx.spec, &ctx.spec_dir, env, ctx.env_spec(env)?)?;
    Ok(PreparedRelease {
        tree,
        snapshot,
        image,
    })
}

/// Uploads `prepared` to every host as one new release and marks it ready everywhere.
pub(crate) fn release_step(
    run: &mut CommandRun<'_>,
    prepared: &PreparedRelease,
) -> Result<ReleaseId> {
    let ctx = run.ctx;
    let parallel = run.parallel()?;
    let discarded = fleet::across(&run.hosts, parallel, |_, handle| {
        for id in handle.host.discard_incomplete()? {
            ctx.progress.note(&format!(
                "{}: release `{id}` was cut off; marked failed",
                handle.host.address()
            ));
        }
        Ok(())
    });
    discarded.ok()?;
    let id = fresh_id(run, &prepared.tree.content_hash)?;
    if let (Some(container), Some(image)) = (
        container_image::built_container(ctx.spec.service.as_ref()),
        &prepared.image,
    ) {
        let tag =
            container_image::tag_release(&ctx.spec.app.name, &run.env_name, container, image, &id)?;
        ctx.progress.note(&format!("build: tagged `{tag}`"));
    }
    let now = ctx.clock.now();
    let info = ReleaseInfo {
        id: id.clone(),
        status: ReleaseStatus::Uploading,
        content_hash: prepared.tree.content_hash.clone(),
        config_hash: prepared.snapshot.hash.clone(),
        created_at: now.to_string(),
        created_by: ctx.actor.name.clone(),
        source_rev: None,
        config_snapshot: prepared.snapshot.value.clone(),
        error: None,
        config_kept: false,
    };
    let env_spec = ctx.env_spec(&run.env_name)?;
    let new_release = NewRelease {
        info,
        shared_dirs: env_spec.shared_dirs.clone(),
    };
    save_record(run, &id, prepared, ReleaseStatus::Uploading, now)?;

    let uploaded = fleet::across(&run.hosts, parallel, |_, handle| {
        upload_one(run, handle, &new_release, prepared)
    });
    record_host_results(run, "upload", &uploaded)?;
    if let Err(error) = uploaded.ok() {
        // The reason goes into each host's release.json, past the store's masking.
        let reason = KnownSecrets::process().mask_owned(first_line(&error.to_string()));
        fleet::across(&run.hosts, parallel, |_, handle| {
            handle.host.mark_failed(&id, &reason)
        });
        save_record(run, &id, prepared, ReleaseStatus::Failed, now)?;
        return Err(error);
    }
    failpoint::hit("release.before_ready");
    fleet::across(&run.hosts, parallel, |_, handle| {
        handle.host.mark_ready(&id)
    })
    .ok()?;
    save_record(run, &id, prepared, ReleaseStatus::Ready, now)?;
    run.env_mut()?.pending_release = Some(id.clone());
    run.save_env()?;
    run.event(
        "release.ready",
        format!(
            "release {id} is ready ({} files)",
            prepared.tree.file_count()
        ),
    )?;
    Ok(id)
}

/// Uploads to one host and runs `post_upload` there.
fn upload_one(
    run: &CommandRun<'_>,
    handle: &HostHandle,
    release: &NewRelease,
    prepared: &PreparedRelease,
) -> Result<UploadReport> {
    let ctx = run.ctx;
    let id = &release.info.id;
    let hook_env = crate::ops::run::hooks::hook_env(run, id);
    let address = handle.host.address();
    let report = handle.host.upload(release, &prepared.tree)?;
    if let Some(Workload::Container(container)) = ctx.spec.service.as_ref().map(|s| &s.workload) {
        let image = container_image::image_of(&ctx.spec.app.name, &run.env_name, container, id);
        handle
            .host
            .receive_image(&image, container.engine.map(|e| e.as_str()))?;
    }
    failpoint::hit("release.after_upload");
    ctx.progress.note(&format!(
        "{address}: {} files, {} linked, {} written ({} bytes)",
        report.files, report.linked, report.written, report.bytes_written
    ));
    for command in &ctx.spec.hooks.post_upload {
        let output = handle
            .host
            .exec(&ExecDir::Release(id.clone()), command, &hook_env)?;
        if output.status != 0 {
            return Err(Error::failed(format!(
                "post_upload `{command}` exited with status {} on `{address}`",
                output.status
            ))
            .cause(tail(&output.output, 20)));
        }
    }
    Ok(report)
}

/// `YYYYMMDDTHHMMSSZ-<hash>`, moved a second on if that id is taken on any host or in the
/// store (the same content released twice within a second).
fn fresh_id(run: &CommandRun<'_>, content_hash: &str) -> Result<ReleaseId> {
    let ctx = run.ctx;
    let mut taken: Vec<ReleaseId> = ctx
        .store
        .releases(&run.env_name)?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let parallel = run.parallel()?;
    let listed = fleet::across(&run.hosts, parallel, |_, handle| handle.host.releases());
    for result in listed.results.into_iter().flatten() {
        taken.extend(result?.infos.into_keys());
    }
    let mut at = ctx.clock.now();
    loop {
        let id = ReleaseId::new(&at.strftime("%Y%m%dT%H%M%SZ").to_string(), content_hash)?;
        if !taken.contains(&id) {
            return Ok(id);
        }
        at = at
            .checked_add(jiff::SignedDuration::from_secs(1))
            .map_err(|e| Error::internal(e.to_string()))?;
    }
}

fn save_record(
    run: &CommandRun<'_>,
    id: &ReleaseId,
    prepared: &PreparedRelease,
    status: ReleaseStatus,
    created_at: Timestamp,
) -> Result<()> {
    run.ctx.store.save_release(&ReleaseRecord {
        env: run.env_name.clone(),
        id: id.clone(),
        status,
        content_hash: prepared.tree.content_hash.clone(),
        config_hash: prepared.snapshot.hash.clone(),
        created_at,
        command_id: Some(run.command.id),
    })
}

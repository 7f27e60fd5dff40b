//! `destroy`: stop the supervisor, remove the boot entry, stop the service and delete the
//! deploy root on every host; the environment's record stays, as `destroyed`, with its history.

use hoist_core::spec::engine_name;
use hoist_core::{Action, EnvName};

use crate::error::Result;
use crate::ops::command_run::CommandRun;
use crate::ops::container_image;
use crate::ops::context::Context;
use crate::ops::fleet;
use crate::ops::host_results::record_host_results;
use crate::ops::outcome::CommandOutcome;
use crate::ops::report;
use crate::ports::runtime::Slot;

#[derive(Debug, Clone)]
pub struct DestroyOptions {
    pub env: EnvName,
    /// Also remove the environment's container volumes.
    pub volumes: bool,
}

pub fn destroy(ctx: &Context<'_>, options: &DestroyOptions) -> Result<CommandOutcome> {
    ctx.env_spec(&options.env)?;
    let mut run = CommandRun::begin(ctx, Action::Destroy, &options.env, serde_json::json!({}))?;
    let result = run.connect_hosts().and_then(|()| {
        run.step("destroy", None, |run| {
            let ctx = run.ctx;
            let service = ctx.spec.service.as_ref();
            let grace = service.map(|s| s.stop_grace);
            let engine = container_image::engine_of(service);
            let env_name = run.env_name.clone();
            let parallel = run.parallel()?;
            let destroyed = fleet::across(&run.hosts, parallel, |_, handle| {
                // The supervisor first, or it would start what is being stopped.
                handle.supervisor.stop_supervisor()?;
                handle.supervisor.remove_boot_entry()?;
                if let Some(grace) = grace {
                    for slot in [Slot::Single, Slot::Blue, Slot::Green] {
                        handle.runtime.stop(slot, grace)?;
                    }
                    handle.router.stop_proxy()?;
                }
                // Its built images go with it; a root destroyed before leaves none to list.
                let ids: Vec<_> = handle
                    .host
                    .releases()
                    .map(|releases| releases.infos.into_keys().collect())
                    .unwrap_or_default();
                let mut images =
                    container_image::built_images(&ctx.spec.app.name, &env_name, service, &ids);
                if !images.is_empty() {
                    images.push(format!(
                        "{}:pending",
                        container_image::built_repository(&ctx.spec.app.name, &env_name)
                    ));
                }
                if !images.is_empty() {
                    handle.host.remove_images(&images, engine.as_deref())?;
                }
                if options.volumes && container_image::uses_engine(service) {
                    let project = engine_name(&ctx.spec.app.name, env_name.as_str());
                    handle.host.remove_volumes(&project, engine.as_deref())?;
                }
                handle.host.destroy()
            });
            record_host_results(run, "destroy", &destroyed)?;
            destroyed.ok()?;
            run.ctx.store.forget_live_instance(&run.env_name, None)?;
            let env = run.env_mut()?;
            env.live_release = None;
            env.pending_release = None;
            run.set_state_after(Action::Destroy)
        })
    });
    report::finish(
        run,
        result,
        format!("environment `{}` is destroyed", options.env),
    )
}

//! The reconcile loop of `hoist serve`: every `--reconcile-every`, each environment that the
//! store records as running and the spec (read again when the file changed) still defines is
//! reconciled (`ops::reconcile`: drift recorded as events, repaired only with `--repair`). An
//! environment with a command running is left for the next tick: a deploy half way is not
//! drift. An unreachable host is drift like any other, and nothing else is touched.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hoist_core::{CommandStatus, EnvName, EnvState};

use crate::app::App;
use crate::error::Result;
use crate::ops::reconcile::{ReconcileOptions, reconcile};
use crate::ports::store::CommandFilter;
use crate::scheduler::spec_cache::SpecCache;
use crate::server::shutdown_signal::ShutdownSignal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcilerOptions {
    /// Zero: no reconciling.
    pub every: Duration,
    pub repair: bool,
}

/// Runs until the shutdown signal.
pub fn run(app: Arc<App>, options: ReconcilerOptions, shutdown: &ShutdownSignal) -> Result<()> {
    if options.every.is_zero() {
        return Ok(());
    }
    let specs = SpecCache::new(&app.spec.path);
    // What each environment's last reconcile found, so a drift is recorded once, not per tick.
    let mut last: HashMap<EnvName, Vec<String>> = HashMap::new();
    while !shutdown.wait_timeout(options.every) {
        if let Err(error) = tick(&app, &specs, options, &mut last, shutdown) {
            tracing::warn!("hoist serve: reconcile: {error}");
        }
    }
    Ok(())
}

fn tick(
    app: &App,
    specs: &SpecCache,
    options: ReconcilerOptions,
    last: &mut HashMap<EnvName, Vec<String>>,
    shutdown: &ShutdownSignal,
) -> Result<()> {
    let reloaded = specs.changed()?;
    let spec = reloaded.as_deref().unwrap_or(&app.spec);
    let mut ctx = app.background_context(spec);
    ctx.actor.name = format!("{} (reconcile)", ctx.actor.name);
    for env in ctx.store.environments()? {
        if shutdown.is_set() {
            break;
        }
        if env.state != EnvState::Running || !spec.spec.envs.contains_key(&env.name) {
            last.remove(&env.name);
            continue;
        }
        let busy = ctx.store.commands(&CommandFilter {
            env: Some(env.name.clone()),
            status: Some(CommandStatus::Running),
            limit: 1,
        })?;
        if !busy.is_empty() {
            continue;
        }
        let previous = last.get(&env.name).cloned().unwrap_or_default();
        let reconcile_options = ReconcileOptions {
            env: env.name.clone(),
            repair: options.repair,
        };
        match reconcile(&ctx, &reconcile_options, &previous) {
            Ok(reconciled) => {
                if reconciled.problems != previous && !reconciled.problems.is_empty() {
                    tracing::info!(
                        "hoist serve: drift in `{}`: {}",
                        env.name,
                        reconciled.problems.join("; ")
                    );
                }
                for line in &reconciled.repaired {
                    tracing::info!("hoist serve: repaired `{}`: {line}", env.name);
                }
                last.insert(env.name.clone(), reconciled.problems);
            }
            Err(error) => tracing::warn!("hoist serve: reconcile of `{}`: {error}", env.name),
        }
    }
    Ok(())
}

//! `hoist serve` keeps the ssh connections of its environments' hosts warm: every half
//! `ssh_persist` it runs `true` on each SSH host of each environment that is not destroyed,
//! through the host's shared master (started again if it went), so a command from the API,
//! the scheduler or the CLI finds its connections up. A shared master's idle clock restarts
//! only when a session ends, hence a command rather than a check. A host that does not answer
//! is left until the next round.

use std::sync::Arc;
use std::time::Duration;

use hoist_core::{EnvState, HostAddress};

use crate::adapters::ssh_transport::SshTransport;
use crate::adapters::transport::Transport;
use crate::app::App;
use crate::error::Result;
use crate::ops::host_targets::host_targets;
use crate::ports::HostTarget;
use crate::scheduler::spec_cache::SpecCache;
use crate::server::shutdown_signal::ShutdownSignal;

/// Bounds of the pause between rounds: half the shortest `ssh_persist`, within these.
const SHORTEST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(300);

pub fn run(app: Arc<App>, shutdown: &ShutdownSignal) -> Result<()> {
    let specs = SpecCache::new(&app.spec.path);
    loop {
        let pause = match round(&app, &specs) {
            Ok(pause) => pause,
            Err(error) => {
                tracing::warn!("hoist serve: keeping connections warm: {error}");
                LONGEST_PAUSE
            }
        };
        if shutdown.wait_timeout(pause) {
            return Ok(());
        }
    }
}

/// One round over every host; returns the pause until the next.
fn round(app: &App, specs: &SpecCache) -> Result<Duration> {
    let reloaded = specs.changed()?;
    let spec = reloaded.as_deref().unwrap_or(&app.spec);
    let ctx = app.background_context(spec);
    let mut targets: Vec<HostTarget> = Vec::new();
    for env in ctx.store.environments()? {
        let Some(env_spec) = spec.spec.envs.get(&env.name) else {
            continue;
        };
        if env.state == EnvState::Destroyed || env_spec.ssh.persist.is_zero() {
            continue;
        }
        for target in host_targets(&ctx, &env.name)? {
            let known = targets.iter().any(|t| t.address == target.address);
            if matches!(target.address, HostAddress::Ssh(_)) && !known {
                targets.push(target);
            }
        }
    }
    std::thread::scope(|scope| {
        for target in &targets {
            scope.spawn(move || {
                if let Ok(transport) = SshTransport::connect(target) {
                    let _ = transport.run(&["true".to_owned()], &mut std::io::empty());
                }
            });
        }
    });
    let shortest = targets
        .iter()
        .map(|target| target.ssh_persist / 2)
        .min()
        .unwrap_or(LONGEST_PAUSE);
    Ok(shortest.clamp(SHORTEST_PAUSE, LONGEST_PAUSE))
}

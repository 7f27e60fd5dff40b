//! What keeps a deployed service running once a command returns: an instance is handed to
//! its host's supervisor once it is healthy (or started, without a health check); the
//! supervisor and the boot entry are checked and put back wherever hoist touches a host; and
//! the host journal — exits, restarts, crash loops — moves into the store's timeline.

use hoist_core::spec::{Service, Workload, engine_name};
use hoist_core::{EnvName, ReleaseId};

use crate::error::Result;
use crate::ops::container_image;
use crate::ops::context::Context;
use crate::ports::HostHandle;
use crate::ports::runtime::{ComposeLaunch, InstanceSpec, LogLimits, Slot};
use crate::ports::store::NewEvent;
use crate::ports::supervisor::{HostEvent, SupervisionPolicy, SupervisorStart};

/// An instance of `release` on `port` as the spec's service runs it.
pub(crate) fn instance_spec(
    app: &str,
    env: &EnvName,
    service: &Service,
    release: &ReleaseId,
    port: u16,
) -> InstanceSpec {
    let (mut command, mut container, mut compose) = (String::new(), None, None);
    match &service.workload {
        Workload::Container(spec) => {
            let launch = container_image::launch(app, env, spec, release);
            command = format!("container {}", launch.image);
            container = Some(launch);
        }
        Workload::Compose(spec) => {
            command = format!("compose {}", spec.file.display());
            compose = Some(ComposeLaunch {
                engine: spec.engine.map(|engine| engine.as_str().to_owned()),
                file: spec.file.display().to_string(),
                project: engine_name(app, env.as_str()),
            });
        }
        Workload::Process { command: line } => line.clone_into(&mut command),
        Workload::Static { .. } => {}
    }
    InstanceSpec {
        release: release.clone(),
        command,
        container,
        compose,
        port,
        env: vec![("HOIST_ENV".to_owned(), env.to_string())],
        log: LogLimits {
            max_bytes: service.log_max,
            keep: service.log_keep,
        },
    }
}

/// Hands the slot's running instance to the host's supervisor.
pub(crate) fn hand_over(
    ctx: &Context<'_>,
    handle: &HostHandle,
    slot: Slot,
    service: &Service,
) -> Result<()> {
    let started = handle
        .supervisor
        .supervise(slot, &SupervisionPolicy::for_service(service))?;
    note_supervisor(ctx, handle, started);
    Ok(())
}

/// Makes sure the host's supervisor runs and its boot entry is installed; returns what it
/// had to do, one line each (empty: both were in place).
pub(crate) fn ensure_keepers(handle: &HostHandle) -> Result<Vec<String>> {
    let mut done = Vec::new();
    match handle.supervisor.ensure_supervisor()? {
        SupervisorStart::Running => {}
        SupervisorStart::Started => done.push("started the supervisor".to_owned()),
        SupervisorStart::Restarted => {
            done.push("the supervisor was not running; started it again".to_owned());
        }
    }
    let entry = handle.supervisor.boot_entry()?;
    if !entry.installed && entry.kind != crate::ports::supervisor::BootEntryKind::Unavailable {
        let entry = handle.supervisor.install_boot_entry()?;
        done.push(format!("installed the boot entry ({})", entry.detail));
    }
    Ok(done)
}

fn note_supervisor(ctx: &Context<'_>, handle: &HostHandle, started: SupervisorStart) {
    let address = handle.host.address();
    match started {
        SupervisorStart::Running => {}
        SupervisorStart::Started => ctx
            .progress
            .note(&format!("{address}: started the supervisor")),
        SupervisorStart::Restarted => ctx.progress.note(&format!(
            "{address}: the supervisor was not running; started it again"
        )),
    }
}

/// Moves the host journal's events into the store, as events of `env`; returns how many.
/// At least once: if this process dies between the store and the acknowledgement, the next
/// contact records them again.
pub(crate) fn collect_host_events(
    ctx: &Context<'_>,
    env: &EnvName,
    handle: &HostHandle,
) -> Result<usize> {
    let events = handle.supervisor.host_events()?;
    let Some(last) = events.last().map(|event| event.seq) else {
        return Ok(0);
    };
    let address = handle.host.address();
    for event in &events {
        let at = event
            .at
            .parse::<jiff::Timestamp>()
            .unwrap_or_else(|_| ctx.clock.now());
        ctx.store.append_event(&NewEvent {
            at,
            env: Some(env.clone()),
            command_id: None,
            kind: event.kind.clone(),
            message: format!("{address}: {}", event.message),
            actor: format!("supervisor@{address}"),
        })?;
    }
    follow_restarts(ctx, env, &address.to_string(), &events)?;
    handle.supervisor.ack_host_events(last)?;
    Ok(events.len())
}

/// A restart by the supervisor gives the instance a new pid. The store's record of the host's
/// live instance follows it (same slot and release, restarted after it was recorded), or
/// `check` would report as drift what is the supervisor doing its job — drift no deploy
/// repairs, since the host serves exactly what was asked.
fn follow_restarts(
    ctx: &Context<'_>,
    env: &EnvName,
    address: &str,
    events: &[HostEvent],
) -> Result<()> {
    let Some(mut recorded) = ctx
        .store
        .live_instances(env)?
        .into_iter()
        .find(|instance| instance.host == address)
    else {
        return Ok(());
    };
    let mut moved = false;
    for event in events.iter().filter(|e| e.kind == "instance.restarted") {
        let after_record = event
            .at
            .parse::<jiff::Timestamp>()
            .is_ok_and(|at| at >= recorded.recorded_at);
        if let (Some(slot), Some(release), Some(pid)) = (event.slot, &event.release, event.pid)
            && after_record
            && slot == recorded.slot
            && release == &recorded.release
        {
            recorded.pid = pid;
            moved = true;
        }
    }
    if moved {
        ctx.store.save_live_instance(&recorded)?;
    }
    Ok(())
}

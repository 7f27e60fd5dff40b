//! `list` and `status`: what the store records about environments, with each host's live
//! release and instance. Read-only: no command, no lock.

use hoist_core::spec::Workload;
use hoist_core::{EnvName, EnvState, ReleaseId};
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::Result;
use crate::ops::context::Context;
use crate::ops::fleet;
use crate::ops::host_targets::host_targets;
use crate::ops::run::blue_green::serving_instance;
use crate::ops::run::static_site;
use crate::ops::supervision::collect_host_events;
use crate::ports::HostHandle;
use crate::ports::router::RouteConfig;
use crate::ports::runtime::{InstanceState, Slot};
use crate::ports::store::{CommandFilter, CommandRecord, StepFailure};
use crate::ports::supervisor::{BootEntry, SupervisorState};

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct EnvSummary {
    pub name: EnvName,
    /// `None`: in the spec but never created.
    pub state: Option<EnvState>,
    pub in_spec: bool,
    pub live_release: Option<ReleaseId>,
    pub pending_release: Option<ReleaseId>,
    pub failure: Option<StepFailure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct HostStatus {
    pub address: String,
    /// Whether the host answered; when false, nothing below is known (`error` says why).
    pub reachable: bool,
    pub live_release: Option<ReleaseId>,
    /// The serving instance (recreate's, or the routed one of blue-green), with its
    /// supervision: status, restarts, last exit.
    pub instance: Option<InstanceState>,
    /// The health check's answer now (`None`: no check, or nothing to probe).
    #[schemars(with = "Option<HealthAnswer>")]
    pub health: Option<Result<String, String>>,
    pub supervisor: Option<SupervisorState>,
    pub boot_entry: Option<BootEntry>,
    /// Set when the host could not be read.
    pub error: Option<String>,
}

/// How `HostStatus::health` (a `Result`) is sent: `{"Ok": "…"}` or `{"Err": "…"}`. Only its
/// schema is used, for the API's OpenAPI document.
#[derive(Debug, JsonSchema)]
pub enum HealthAnswer {
    /// Healthy: what the check saw.
    Ok(String),
    /// Unhealthy: why.
    Err(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct EnvStatus {
    #[serde(flatten)]
    pub summary: EnvSummary,
    pub hosts: Vec<HostStatus>,
    pub last_command: Option<CommandRecord>,
    pub url: Option<String>,
}

/// Every environment of the spec and of the store, by name.
pub fn list(ctx: &Context<'_>) -> Result<Vec<EnvSummary>> {
    let mut rows: Vec<EnvSummary> = ctx
        .store
        .environments()?
        .into_iter()
        .map(|env| EnvSummary {
            in_spec: ctx.spec.envs.contains_key(&env.name),
            name: env.name,
            state: Some(env.state),
            live_release: env.live_release,
            pending_release: env.pending_release,
            failure: env.failure,
        })
        .collect();
    for name in ctx.spec.envs.keys() {
        if !rows.iter().any(|row| &row.name == name) {
            rows.push(EnvSummary {
                name: name.clone(),
                state: None,
                in_spec: true,
                live_release: None,
                pending_release: None,
                failure: None,
            });
        }
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

#[derive(Debug, Clone)]
pub struct StatusOptions {
    pub env: EnvName,
}

pub fn status(ctx: &Context<'_>, options: &StatusOptions) -> Result<EnvStatus> {
    let targets = host_targets(ctx, &options.env)?;
    let summary = list(ctx)?.into_iter().find(|row| row.name == options.env);
    let summary = summary.unwrap_or(EnvSummary {
        name: options.env.clone(),
        state: None,
        in_spec: true,
        live_release: None,
        pending_release: None,
        failure: None,
    });
    let hosts = fleet::map_parallel(&targets, |target| {
        let address = target.address.to_string();
        let read = ctx
            .hosts
            .connect(target)
            .and_then(|handle| read_host(ctx, &options.env, &handle, address.clone()));
        read.unwrap_or_else(|error| HostStatus {
            address,
            reachable: false,
            live_release: None,
            instance: None,
            health: None,
            supervisor: None,
            boot_entry: None,
            error: Some(error.to_string()),
        })
    });
    let filter = CommandFilter {
        env: Some(options.env.clone()),
        status: None,
        limit: 1,
    };
    let last_command = crate::ops::commands::list(ctx, &filter)?.into_iter().next();
    let url = ctx.service_url(&options.env);
    Ok(EnvStatus {
        summary,
        hosts,
        last_command,
        url,
    })
}

fn read_host(
    ctx: &Context<'_>,
    env: &EnvName,
    handle: &HostHandle,
    address: String,
) -> Result<HostStatus> {
    // What the supervisor did since hoist last talked to the host goes into the timeline.
    let _ = collect_host_events(ctx, env, handle);
    let live_release = handle.host.releases()?.live;
    let mut instance = match &ctx.spec.service {
        Some(service) => serving_instance(handle, service)?,
        None => None,
    };
    if let (Some(service), Some(state)) = (&ctx.spec.service, instance.as_mut())
        && matches!(service.workload, Workload::Compose(_))
    {
        // What the engine says, or nothing when it cannot be asked: the rest still stands.
        state.services = handle
            .runtime
            .stack_services(Slot::Single)
            .unwrap_or_default();
    }
    let health = match (&ctx.spec.service, &instance) {
        // A static site has no instance: it is up when the proxy runs and serves it.
        (Some(service), _) if let Workload::Static { dir } = &service.workload => {
            let route = handle.router.route(&RouteConfig::for_service(service))?;
            let proxy_alive = route.proxy.as_ref().is_some_and(|proxy| proxy.alive);
            Some(match (proxy_alive, static_site::serves_site(&route, dir)) {
                (true, true) => Ok(format!("the proxy serves `live/{}`", dir.display())),
                (false, _) => Err("the proxy is not running".to_owned()),
                (true, false) => Err(format!("the proxy does not serve `live/{}`", dir.display())),
            })
        }
        (Some(service), Some(state)) if state.alive => service.health.as_ref().map(|health| {
            handle.probe.probe_once(
                state.instance.port,
                health,
                &state.instance.release,
                Some(state.instance.pid),
            )
        }),
        _ => None,
    };
    let (supervisor, boot_entry) = match &ctx.spec.service {
        Some(_) => (
            handle.supervisor.supervisor_state()?,
            Some(handle.supervisor.boot_entry()?),
        ),
        None => (None, None),
    };
    Ok(HostStatus {
        address,
        reachable: true,
        live_release,
        instance,
        health,
        supervisor,
        boot_entry,
        error: None,
    })
}

//! `list` and `status`: what the store records about environments, with each host's live
//! release and instance. Read-only: no command, no lock.

use hoist_core::{EnvName, EnvState, ReleaseId};
use serde::Serialize;

use crate::error::Result;
use crate::ops::blue_green::serving_instance;
use crate::ops::context::Context;
use crate::ops::fleet;
use crate::ops::host_targets::host_targets;
use crate::ports::runtime::InstanceState;
use crate::ports::store::{CommandFilter, CommandRecord, StepFailure};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvSummary {
    pub name: EnvName,
    /// `None`: in the spec but never created.
    pub state: Option<EnvState>,
    pub in_spec: bool,
    pub live_release: Option<ReleaseId>,
    pub pending_release: Option<ReleaseId>,
    pub failure: Option<StepFailure>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostStatus {
    pub address: String,
    pub live_release: Option<ReleaseId>,
    pub instance: Option<InstanceState>,
    /// Set when the host could not be read.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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
        let address = &target.address;
        let read = ctx.hosts.connect(target).and_then(|handle| {
            let live = handle.host.releases()?.live;
            let instance = match &ctx.spec.service {
                Some(service) => serving_instance(&handle, service)?,
                None => None,
            };
            Ok((live, instance))
        });
        match read {
            Ok((live_release, instance)) => HostStatus {
                address: address.to_string(),
                live_release,
                instance,
                error: None,
            },
            Err(error) => HostStatus {
                address: address.to_string(),
                live_release: None,
                instance: None,
                error: Some(error.to_string()),
            },
        }
    });
    let filter = CommandFilter {
        env: Some(options.env.clone()),
        status: None,
        limit: 1,
    };
    let last_command = crate::ops::commands::list(ctx, &filter)?.into_iter().next();
    let url = ctx.service_url();
    Ok(EnvStatus {
        summary,
        hosts,
        last_command,
        url,
    })
}

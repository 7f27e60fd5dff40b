//! `check`: compare what the store recorded (the truth for what was asked) with each host's
//! layout and processes (the truth for what is there), and report every drift.

use hoist_core::{EnvName, EnvState, ReleaseId};
use serde::Serialize;

use crate::error::Result;
use crate::ops::context::Context;
use crate::ops::fleet;
use crate::ops::host_targets::host_targets;
use crate::ports::HostHandle;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostCheck {
    pub address: String,
    pub expected_live: Option<ReleaseId>,
    pub live: Option<ReleaseId>,
    pub instance_release: Option<ReleaseId>,
    pub instance_alive: bool,
    /// `None` when there is no health check or nothing to probe.
    pub healthy: Option<bool>,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub env: EnvName,
    pub state: Option<EnvState>,
    pub hosts: Vec<HostCheck>,
    pub ok: bool,
}

#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub env: EnvName,
}

pub fn check(ctx: &Context<'_>, options: &CheckOptions) -> Result<CheckReport> {
    let targets = host_targets(ctx, &options.env)?;
    let record = ctx.store.environment(&options.env)?;
    let state = record.as_ref().map(|r| r.state);
    let expected_live = record.as_ref().and_then(|r| r.live_release.clone());
    let hosts = fleet::map_parallel(&targets, |target| {
        let mut host_check = HostCheck {
            address: target.address.to_string(),
            expected_live: expected_live.clone(),
            live: None,
            instance_release: None,
            instance_alive: false,
            healthy: None,
            problems: Vec::new(),
        };
        match ctx.hosts.connect(target) {
            Ok(handle) => check_host(ctx, &handle, state, &mut host_check),
            Err(error) => host_check
                .problems
                .push(format!("cannot reach the host: {error}")),
        }
        host_check
    });
    let ok = hosts.iter().all(|h| h.problems.is_empty());
    Ok(CheckReport {
        env: options.env.clone(),
        state,
        hosts,
        ok,
    })
}

fn check_host(
    ctx: &Context<'_>,
    handle: &HostHandle,
    state: Option<EnvState>,
    out: &mut HostCheck,
) {
    let expects_layout =
        matches!(state, Some(s) if s >= EnvState::Provisioned && s != EnvState::Destroyed);
    match handle.host.releases() {
        Ok(releases) => {
            out.live = releases.live.clone();
            out.problems.extend(releases.chain.violations());
            if expects_layout && out.live != out.expected_live {
                out.problems.push(format!(
                    "`live` points at {}, the store expects {}",
                    show(out.live.as_ref()),
                    show(out.expected_live.as_ref())
                ));
            }
        }
        Err(error) if expects_layout => out
            .problems
            .push(format!("cannot read the layout: {error}")),
        Err(_) => {}
    }
    let Some(service) = &ctx.spec.service else {
        return;
    };
    match handle.runtime.current() {
        Ok(Some(current)) => {
            out.instance_alive = current.alive;
            out.instance_release = Some(current.instance.release.clone());
            if !current.alive && state == Some(EnvState::Running) {
                out.problems.push(format!(
                    "the instance of `{}` (pid {}) is not running",
                    current.instance.release, current.instance.pid
                ));
            }
            if current.alive && out.live.as_ref() != Some(&current.instance.release) {
                out.problems.push(format!(
                    "the running instance is `{}` but `live` is {}",
                    current.instance.release,
                    show(out.live.as_ref())
                ));
            }
        }
        Ok(None) if state == Some(EnvState::Running) => out
            .problems
            .push("no instance is recorded as running".to_owned()),
        Ok(None) => {}
        Err(error) => out
            .problems
            .push(format!("cannot read the instance: {error}")),
    }
    if let (Some(health), true, Some(release)) = (
        &service.health,
        out.instance_alive,
        out.instance_release.clone(),
    ) {
        match handle.probe.probe_once(service.port, health, &release) {
            Ok(_) => out.healthy = Some(true),
            Err(answer) => {
                out.healthy = Some(false);
                out.problems.push(format!(
                    "health check {} failed: {answer}",
                    health.check.describe(service.port)
                ));
            }
        }
    }
}

fn show(id: Option<&ReleaseId>) -> String {
    id.map_or_else(|| "nothing".to_owned(), |id| format!("`{id}`"))
}

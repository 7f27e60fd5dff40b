//! `GET /env/{env}`: one environment as its hosts report it now (instance, health, up since,
//! restarts, supervisor, boot entry), its release chain newest first (status, which command
//! made it, config changed or not), and its actions.

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use hoist_core::EnvName;
use hoist_core::access::Need;
use hoist_core::release_chain::ReleaseStatus;
use jiff::Timestamp;

use crate::ops::status::{EnvStatus, HostStatus};
use crate::ops::{self, StatusOptions};
use crate::ports::store::ReleaseRecord;
use crate::server::api_error::ApiError;
use crate::server::api_input::path;
use crate::server::api_state::ApiState;
use crate::server::dashboard::layout::Layout;
use crate::server::dashboard::moment::Moment;
use crate::server::dashboard::overview::{CommandLine, Flags};
use crate::server::dashboard::page_error::PageResult;
use crate::server::dashboard::render::render;
use crate::server::dashboard::viewer::Viewer;

#[derive(Template)]
#[template(path = "dashboard/environment.html")]
struct EnvironmentPage {
    layout: Layout,
    env: EnvName,
    state: String,
    state_class: String,
    url: Option<String>,
    failure: Option<String>,
    hosts: Vec<HostView>,
    releases: Vec<ReleaseView>,
    last_command: Option<CommandLine>,
    maintenance: bool,
    drift: Option<String>,
    has_service: bool,
    /// Maintenance needs a blue-green service behind the built-in proxy.
    maintenance_possible: bool,
}

struct HostView {
    address: String,
    reachable: bool,
    error: Option<String>,
    release: Option<String>,
    /// `pid 123, port 8080`, or why there is none.
    instance: String,
    up_since: Option<Moment>,
    alive: bool,
    supervision: Option<String>,
    restarts: u32,
    last_exit: Option<String>,
    health: Option<(bool, String)>,
    supervisor: String,
    boot_entry: String,
}

struct ReleaseView {
    id: String,
    status: String,
    created: Moment,
    command_id: Option<i64>,
    /// Who asked for the command that made it.
    by: Option<String>,
    config_changed: bool,
    live: bool,
    failed: bool,
}

pub async fn page(
    State(state): State<ApiState>,
    viewer: Viewer,
    env: Result<Path<String>, PathRejection>,
) -> PageResult<Response> {
    let env: EnvName = path(env, "environment name")?;
    let caller = viewer.caller();
    caller.require(&Need::Read {
        env: Some(env.clone()),
    })?;
    let name = env.clone();
    let (status, releases, flags, service, now) = state
        .run_raw(None, move |ctx| {
            if ctx.spec.env(&name).is_none() {
                return Err(ApiError::not_found(format!(
                    "environment `{name}` is not in the spec"
                ))
                .hint("the environments page lists those there are"));
            }
            let status = ops::status(ctx, &StatusOptions { env: name.clone() })?;
            let releases: Vec<(ReleaseRecord, Option<String>)> = ctx
                .store
                .releases(&name)?
                .into_iter()
                .map(|release| {
                    let by = match release.command_id {
                        Some(id) => ctx.store.command(id)?.map(|command| command.requested_by),
                        None => None,
                    };
                    Ok((release, by))
                })
                .collect::<crate::error::Result<_>>()?;
            Ok((
                status,
                releases,
                Flags::recent(ctx, &name)?,
                ctx.spec.service.as_ref().map(|service| {
                    service.strategy == hoist_core::spec::Strategy::BlueGreen
                        && matches!(service.proxy, hoist_core::spec::Proxy::Builtin)
                }),
                ctx.clock.now(),
            ))
        })
        .await?;
    Ok(render(&view(
        Layout::new(env.to_string(), "environments", &viewer),
        status,
        releases,
        flags,
        service,
        now,
    )))
}

fn view(
    layout: Layout,
    status: EnvStatus,
    releases: Vec<(ReleaseRecord, Option<String>)>,
    flags: Flags,
    service: Option<bool>,
    now: Timestamp,
) -> EnvironmentPage {
    let live = status.summary.live_release.clone();
    let mut releases = releases;
    releases.sort_by(|a, b| b.0.id.cmp(&a.0.id));
    let release_views = releases
        .iter()
        .enumerate()
        .map(|(index, (release, by))| {
            let previous = releases.get(index + 1).map(|(previous, _)| previous);
            ReleaseView {
                id: release.id.to_string(),
                status: format!("{:?}", release.status).to_lowercase(),
                created: Moment::new(release.created_at, now),
                command_id: release.command_id,
                by: by.clone(),
                config_changed: previous
                    .is_some_and(|previous| previous.config_hash != release.config_hash),
                live: live.as_ref() == Some(&release.id),
                failed: release.status == ReleaseStatus::Failed,
            }
        })
        .collect();
    let state = status
        .summary
        .state
        .map_or_else(|| "not created".to_owned(), |state| state.to_string());
    EnvironmentPage {
        layout,
        env: status.summary.name.clone(),
        state_class: state.replace(' ', "-"),
        state,
        url: status.url.clone(),
        failure: status
            .summary
            .failure
            .as_ref()
            .map(|failure| format!("{} failed: {}", failure.step, failure.error)),
        hosts: status
            .hosts
            .iter()
            .map(|host| host_view(host, now))
            .collect(),
        releases: release_views,
        last_command: status
            .last_command
            .as_ref()
            .map(|command| CommandLine::of(command, now)),
        maintenance: flags.maintenance,
        drift: flags.drift,
        has_service: service.is_some(),
        maintenance_possible: service.unwrap_or(false),
    }
}

fn host_view(host: &HostStatus, now: Timestamp) -> HostView {
    let instance = host.instance.as_ref();
    let supervision = instance.and_then(|state| state.supervision.as_ref());
    HostView {
        address: host.address.clone(),
        reachable: host.reachable,
        error: host.error.clone(),
        release: host.live_release.as_ref().map(ToString::to_string),
        instance: instance.map_or_else(
            || "none".to_owned(),
            |state| format!("pid {}, port {}", state.instance.pid, state.instance.port),
        ),
        up_since: instance
            .and_then(|state| state.instance.started_at.parse::<Timestamp>().ok())
            .map(|at| Moment::new(at, now)),
        alive: instance.is_some_and(|state| state.alive),
        supervision: supervision.map(|report| {
            serde_json::to_value(report.status)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default()
        }),
        restarts: supervision.map_or(0, |report| report.restarts),
        last_exit: supervision
            .and_then(|report| report.last_exit.as_ref())
            .map(|exit| format!("{} at {}", exit.status, exit.at)),
        health: host.health.as_ref().map(|answer| match answer {
            Ok(text) => (true, text.clone()),
            Err(text) => (false, text.clone()),
        }),
        supervisor: host.supervisor.as_ref().map_or_else(
            || "unknown".to_owned(),
            |state| match state.alive {
                true => format!("running (pid {})", state.pid),
                false => "not running".to_owned(),
            },
        ),
        boot_entry: host.boot_entry.as_ref().map_or_else(
            || "unknown".to_owned(),
            |entry| match entry.installed {
                true => format!("installed ({})", entry.detail),
                false => format!("missing ({})", entry.detail),
            },
        ),
    }
}

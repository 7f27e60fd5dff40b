//! `GET /logs?env=ENV&host=…&lines=N&grep=…`: the service logs of an environment, through
//! the op behind `hoist logs` — one host's, or every host's merged by time with the host
//! in front — the last N lines, then followed live (`/live/logs`). Without `env`: a choice
//! of environments. Reading logs needs what reading the environment needs.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use hoist_core::EnvName;
use hoist_core::access::Need;

use crate::ops::logs::logs;
use crate::server::api_state::ApiState;
use crate::server::dashboard::env_filter::visible_envs;
use crate::server::dashboard::layout::Layout;
use crate::server::dashboard::logs_request::{
    DEFAULT_LINES, LogLine, LogsQuery, LogsRequest, MAX_LINES, host_addresses,
};
use crate::server::dashboard::page_error::PageResult;
use crate::server::dashboard::render::render;
use crate::server::dashboard::viewer::Viewer;

#[derive(Template)]
#[template(path = "dashboard/logs.html")]
struct LogsPage {
    layout: Layout,
    /// The environments of the spec the viewer may pick.
    envs: Vec<EnvName>,
    env: Option<EnvName>,
    /// The environment's hosts, as the spec writes them.
    hosts: Vec<String>,
    host: String,
    lines: usize,
    max_lines: usize,
    grep: String,
    rows: Vec<LogLine>,
    /// Hosts that could not be read, with why.
    failed: Vec<String>,
    /// The stream that continues the lines.
    follow: Option<String>,
}

impl LogsPage {
    fn picked(&self, name: &EnvName) -> bool {
        self.env.as_ref() == Some(name)
    }
}

pub async fn page(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(query): Query<LogsQuery>,
) -> PageResult<Response> {
    let request = LogsRequest::parse(&query)?;
    let caller = viewer.caller();
    caller.require(&Need::Read {
        env: request.as_ref().map(|request| request.env.clone()),
    })?;
    let asked = request.clone();
    let (envs, hosts, rows, failed) = state
        .run_raw(None, move |ctx| {
            let envs: Vec<EnvName> = visible_envs(ctx, &caller)?
                .into_iter()
                .filter(|env| ctx.spec.envs.contains_key(env))
                .collect();
            let Some(request) = asked else {
                return Ok((envs, Vec::new(), Vec::new(), Vec::new()));
            };
            let hosts = host_addresses(ctx, &request.env)?;
            let narrowed = request.context(ctx)?;
            let mut rows = Vec::new();
            let report = logs(
                &narrowed,
                &request.options(request.lines),
                None,
                &mut |line| {
                    rows.push(LogLine::of(line));
                    Ok(())
                },
            )?;
            let failed = report
                .failed
                .iter()
                .map(|(host, error)| format!("{host}: {error}"))
                .collect();
            let hosts = hosts.iter().map(ToString::to_string).collect();
            Ok((envs, hosts, rows, failed))
        })
        .await?;
    let title = match &request {
        Some(request) => format!("Logs of {}", request.env),
        None => "Logs".to_owned(),
    };
    let page = LogsPage {
        layout: Layout::new(title, "logs", &viewer),
        envs,
        hosts,
        host: request
            .as_ref()
            .and_then(|request| request.host.as_ref())
            .map(ToString::to_string)
            .unwrap_or_default(),
        lines: request
            .as_ref()
            .map_or(DEFAULT_LINES, |request| request.lines),
        max_lines: MAX_LINES,
        grep: request
            .as_ref()
            .and_then(|request| request.grep.clone())
            .unwrap_or_default(),
        rows,
        failed,
        follow: request.as_ref().map(LogsRequest::follow_url),
        env: request.map(|request| request.env),
    };
    Ok(render(&page))
}

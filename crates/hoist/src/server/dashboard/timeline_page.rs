//! `GET /timeline`: the event stream, newest first, a page at a time (`before=ID` pages
//! back), narrowed to an environment (`env=`) and a kind (`kind=`: exact, or a prefix ending
//! in `.` such as `command.`). A token limited to environments sees only theirs. The newest
//! page is a live region: it is fetched again when an event arrives.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use hoist_core::EnvName;
use hoist_core::access::Need;
use serde::Deserialize;

use crate::ports::store::Event;
use crate::server::api_state::ApiState;
use crate::server::dashboard::env_filter::{env_param, visible_envs};
use crate::server::dashboard::layout::Layout;
use crate::server::dashboard::moment::Moment;
use crate::server::dashboard::page_error::{PageError, PageResult, urlencoding};
use crate::server::dashboard::render::render;
use crate::server::dashboard::timeline_read::{KindFilter, read_page};
use crate::server::dashboard::viewer::Viewer;
use crate::server::routes::scopes;

/// Events per page.
pub const PAGE: usize = 200;

#[derive(Template)]
#[template(path = "dashboard/timeline.html")]
struct TimelinePage {
    layout: Layout,
    /// The environments the viewer may pick.
    envs: Vec<EnvName>,
    env: Option<EnvName>,
    kind: String,
    /// Kinds and prefixes to suggest for the kind field.
    kinds: Vec<String>,
    rows: Vec<Row>,
    /// What the live region follows (`events?env=…`); `None` on an older page.
    live: Option<String>,
    /// The next page back, when there is one.
    older: Option<String>,
    /// The newest page, when this is an older one.
    newest: Option<String>,
}

impl TimelinePage {
    fn picked(&self, name: &EnvName) -> bool {
        self.env.as_ref() == Some(name)
    }
}

struct Row {
    id: i64,
    at: Moment,
    kind: String,
    env: Option<EnvName>,
    command_id: Option<i64>,
    actor: String,
    message: String,
    /// `good`, `bad` or empty: how the kind reads (`….failed` is bad).
    tone: &'static str,
}

#[derive(Debug, Deserialize)]
pub struct TimelineQuery {
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

pub async fn page(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(query): Query<TimelineQuery>,
) -> PageResult<Response> {
    let env = env_param(query.env.as_deref())?;
    let kind = KindFilter::parse(query.kind.as_deref().unwrap_or(""))?;
    let before = match query.before.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| {
                    PageError::bad_request(format!("`before` must be an event id, not `{text}`"))
                        .hint("use the page's \"Older\" link")
                })?,
        ),
    };
    let caller = viewer.caller();
    caller.require(&Need::Read { env: env.clone() })?;
    let scopes = scopes(&caller, env.clone());
    let filter = kind.clone();
    let (envs, read, now) = state
        .run(None, move |ctx| {
            let envs = visible_envs(ctx, &caller)?;
            let read = read_page(ctx, &scopes, before, &filter, PAGE)?;
            Ok((envs, read, ctx.clock.now()))
        })
        .await?;
    let link = |before: Option<i64>| {
        let mut params = Vec::new();
        if let Some(env) = &env {
            params.push(format!("env={env}"));
        }
        if !kind.text().is_empty() {
            params.push(format!("kind={}", urlencoding(kind.text())));
        }
        if let Some(before) = before {
            params.push(format!("before={before}"));
        }
        match params.is_empty() {
            true => "/timeline".to_owned(),
            false => format!("/timeline?{}", params.join("&")),
        }
    };
    let page = TimelinePage {
        layout: Layout::new("Timeline", "timeline", &viewer),
        live: before.is_none().then(|| match &env {
            Some(env) => format!("events?env={env}"),
            None => "events".to_owned(),
        }),
        older: read.older.map(|id| link(Some(id))),
        newest: before.map(|_| link(None)),
        kinds: suggestions(&read.events),
        rows: read
            .events
            .into_iter()
            .map(|event| row(event, now))
            .collect(),
        kind: kind.text().to_owned(),
        envs,
        env,
    };
    Ok(render(&page))
}

fn row(event: Event, now: jiff::Timestamp) -> Row {
    let kind = event.event.kind;
    let tone = match kind.rsplit('.').next() {
        Some("failed" | "interrupted" | "crash_loop") => "bad",
        Some("succeeded" | "ready") => "good",
        _ => "",
    };
    Row {
        id: event.id,
        at: Moment::new(event.event.at, now),
        env: event.event.env,
        command_id: event.event.command_id,
        actor: event.event.actor,
        message: event.event.message,
        tone,
        kind,
    }
}

/// The kinds on the page and their prefixes (`command.`), sorted, for the kind field's list.
fn suggestions(events: &[Event]) -> Vec<String> {
    let mut kinds: Vec<String> = events
        .iter()
        .flat_map(|event| {
            let kind = event.event.kind.clone();
            let prefix = kind.split_once('.').map(|(head, _)| format!("{head}."));
            [Some(kind), prefix]
        })
        .flatten()
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

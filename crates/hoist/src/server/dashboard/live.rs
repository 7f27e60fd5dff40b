//! `GET /live/events`: the timeline as Server-Sent Events for the dashboard's script, with
//! the session cookie instead of a bearer token (an `EventSource` cannot send headers).
//! The same stream as `GET /api/events/stream`: `env`, `command` and `after` narrow it.

use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, Sse};
use futures_util::Stream;
use hoist_core::access::Need;
use jiff::Timestamp;
use serde::Deserialize;

use crate::ops::Context;
use crate::ports::store::EventFilter;
use crate::server::api_state::ApiState;
use crate::server::dashboard::env_filter::env_param;
use crate::server::dashboard::page_error::{PageError, PageResult};
use crate::server::dashboard::viewer::Viewer;
use crate::server::routes::event_stream::{Naming, follow, latest_event_id};
use crate::server::routes::scopes;

#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    command: Option<i64>,
    #[serde(default)]
    after: Option<i64>,
    /// Unix ms: follow from the first event at or after this time (a page's rendering).
    #[serde(default)]
    since: Option<i64>,
}

/// A page's time and an event's are read off different clocks when the event was written
/// on another machine: follow from a little earlier (an extra refresh costs nothing).
const SINCE_MARGIN_MS: i64 = 1000;

/// The id after which the events at or after `since` come (the newest id when none do).
fn after_id_since(ctx: &Context<'_>, since: Timestamp) -> crate::error::Result<i64> {
    let first = ctx.store.events(&EventFilter {
        since: Some(since),
        limit: 1,
        ..EventFilter::default()
    })?;
    match first.first() {
        Some(event) => Ok(event.id - 1),
        None => latest_event_id(ctx),
    }
}

pub async fn events(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(query): Query<LiveQuery>,
) -> PageResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let env = env_param(query.env.as_deref())?;
    let caller = viewer.caller();
    caller.require(&Need::Read { env: env.clone() })?;
    let after_id = match (query.after, query.since) {
        (Some(id), _) => id,
        (None, Some(since)) => {
            let since = Timestamp::from_millisecond(since.saturating_sub(SINCE_MARGIN_MS))
                .map_err(|_| PageError::bad_request("`since` is not a time in milliseconds"))?;
            state
                .run(None, move |ctx| after_id_since(ctx, since))
                .await?
        }
        (None, None) => state.run(None, latest_event_id).await?,
    };
    Ok(follow(
        state,
        scopes(&caller, env),
        query.command,
        after_id,
        Naming::Unnamed,
    ))
}

//! `GET /live/events`: the timeline as Server-Sent Events for the dashboard's script, with
//! the session cookie instead of a bearer token (an `EventSource` cannot send headers).
//! The same stream as `GET /api/events/stream`: `env`, `command` and `after` narrow it.

use std::convert::Infallible;

use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, Sse};
use futures_util::Stream;
use hoist_core::EnvName;
use hoist_core::access::Need;
use serde::Deserialize;

use crate::server::api_state::ApiState;
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
}

pub async fn events(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(query): Query<LiveQuery>,
) -> PageResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let env = match query.env.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => Some(name.parse::<EnvName>().map_err(|error| {
            PageError::bad_request(format!("`{name}` is not an environment name: {error}"))
        })?),
    };
    let caller = viewer.caller();
    caller.require(&Need::Read { env: env.clone() })?;
    let after_id = match query.after {
        Some(id) => id,
        None => state.run(None, latest_event_id).await?,
    };
    Ok(follow(
        state,
        scopes(&caller, env),
        query.command,
        after_id,
        Naming::Unnamed,
    ))
}

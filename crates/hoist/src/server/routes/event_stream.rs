//! `GET /api/events/stream`: the timeline as Server-Sent Events. Each event goes out with
//! its id (`id:`), its kind (`event:`) and itself as JSON (`data:`); a client that
//! reconnects with `Last-Event-ID` (or `?after=ID`) continues after that event, a new one
//! starts with what happens next. The store is polled every 200 ms — events come from
//! other processes too (the CLI, other controllers) — and the stream ends on shutdown.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use hoist_core::EnvName;
use hoist_core::access::Need;

use crate::ports::store::{Event, EventFilter};
use crate::server::api_error::{ApiError, ApiResult};
use crate::server::api_input::QueryParams;
use crate::server::api_state::ApiState;
use crate::server::caller::Caller;
use crate::server::routes::events::events_in;
use crate::server::routes::scopes;

const POLL: Duration = Duration::from_millis(200);
/// At most this many events per read of the store.
const BATCH: usize = 500;

struct Follow {
    state: ApiState,
    scopes: Vec<Option<EnvName>>,
    command_id: Option<i64>,
    after_id: i64,
    naming: Naming,
    pending: VecDeque<Event>,
}

pub async fn stream(
    State(state): State<ApiState>,
    caller: Caller,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let params = QueryParams::read(query, &["env", "command", "after"])?;
    let env: Option<EnvName> = params.get("env")?;
    let command_id: Option<i64> = params.get("command")?;
    let resume = match headers.get("last-event-id") {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|text| text.trim().parse::<i64>().ok())
                .ok_or_else(|| ApiError::bad_request("`Last-Event-ID` is not an event id"))?,
        ),
        None => params.get("after")?,
    };
    caller.require(&Need::Read { env: env.clone() })?;
    let after_id = match resume {
        Some(id) => id,
        None => state.run(None, latest_event_id).await?,
    };
    Ok(follow(
        state,
        scopes(&caller, env),
        command_id,
        after_id,
        Naming::ByKind,
    ))
}

/// Whether each message carries its event's kind as its SSE name (`event:`), as the API
/// documents, or none, so that a browser's `EventSource.onmessage` sees every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    ByKind,
    Unnamed,
}

/// The events of `scopes` (and of one command, if given) after `after_id`, as they come,
/// until shutdown: the API's stream and the dashboard's live parts.
pub fn follow(
    state: ApiState,
    scopes: Vec<Option<EnvName>>,
    command_id: Option<i64>,
    after_id: i64,
    naming: Naming,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let follow = Follow {
        state,
        scopes,
        command_id,
        after_id,
        naming,
        pending: VecDeque::new(),
    };
    let events = futures_util::stream::unfold(follow, next_event);
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// The id of the newest event (0 when there is none), found with O(log n) one-row reads
/// (ids increase; `Store` has no "newest first" read of events).
pub fn latest_event_id(ctx: &crate::ops::Context<'_>) -> crate::error::Result<i64> {
    let any_after = |id: i64| -> crate::error::Result<bool> {
        let filter = EventFilter {
            after_id: Some(id),
            limit: 1,
            ..EventFilter::default()
        };
        Ok(!ctx.store.events(&filter)?.is_empty())
    };
    // Find a bound with nothing after it, then narrow down: `low` always has an event
    // after it (or is 0), `high` never does.
    let (mut low, mut high) = (0_i64, 1_i64);
    while any_after(high)? {
        low = high;
        high = high.saturating_mul(2);
    }
    if !any_after(low)? {
        return Ok(low);
    }
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if any_after(middle)? {
            low = middle;
        } else {
            high = middle;
        }
    }
    Ok(high)
}

async fn next_event(mut follow: Follow) -> Option<(Result<SseEvent, Infallible>, Follow)> {
    loop {
        if let Some(event) = follow.pending.pop_front() {
            let data = serde_json::to_string(&event).ok()?;
            let message = SseEvent::default().id(event.id.to_string()).data(data);
            let message = match follow.naming {
                Naming::ByKind => message.event(&event.event.kind),
                Naming::Unnamed => message,
            };
            return Some((Ok(message), follow));
        }
        if follow.state.shutdown.is_set() {
            return None;
        }
        let scopes = follow.scopes.clone();
        let filter = EventFilter {
            env: None,
            command_id: follow.command_id,
            after_id: Some(follow.after_id),
            limit: BATCH,
            ..EventFilter::default()
        };
        let fresh = follow
            .state
            .run(None, move |ctx| events_in(ctx, &scopes, &filter))
            .await
            .ok()?;
        match fresh.last() {
            Some(last) => {
                follow.after_id = last.id;
                follow.pending.extend(fresh);
            }
            None => {
                let shutdown = follow.state.shutdown.clone();
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = shutdown.wait() => return None,
                }
            }
        }
    }
}

//! `GET /api/events`: the timeline, oldest first, filtered by environment, command and
//! `after` (an event id). A caller limited to environments sees only theirs.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use hoist_core::EnvName;
use hoist_core::access::Need;

use crate::ops::Context;
use crate::ports::store::{Event, EventFilter};
use crate::server::api_error::ApiResult;
use crate::server::api_input::QueryParams;
use crate::server::api_state::ApiState;
use crate::server::caller::Caller;
use crate::server::routes::scopes;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<Vec<Event>>> {
    let params = QueryParams::read(query, &["env", "command", "after", "limit"])?;
    let env: Option<EnvName> = params.get("env")?;
    let command_id: Option<i64> = params.get("command")?;
    let after_id: Option<i64> = params.get("after")?;
    let limit = params.limit(DEFAULT_LIMIT, MAX_LIMIT)?;
    caller.require(&Need::Read { env: env.clone() })?;
    let filter = EventFilter {
        env: None,
        command_id,
        after_id,
        limit,
        ..EventFilter::default()
    };
    let scopes = scopes(&caller, env);
    let events = state
        .run(None, move |ctx| events_in(ctx, &scopes, &filter))
        .await?;
    Ok(Json(events))
}

/// The events `filter` selects in each of `scopes`, merged oldest first.
pub fn events_in(
    ctx: &Context<'_>,
    scopes: &[Option<EnvName>],
    filter: &EventFilter,
) -> crate::error::Result<Vec<Event>> {
    let mut events = Vec::new();
    for env in scopes {
        let filter = EventFilter {
            env: env.clone(),
            ..filter.clone()
        };
        events.extend(ctx.store.events(&filter)?);
    }
    events.sort_by_key(|event| event.id);
    if filter.limit > 0 {
        events.truncate(filter.limit);
    }
    Ok(events)
}

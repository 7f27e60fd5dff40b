//! `GET /`: every environment the signed-in token may see, with what runs where.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use hoist_core::access::Need;

use crate::server::api_state::ApiState;
use crate::server::dashboard::layout::Layout;
use crate::server::dashboard::overview::{EnvironmentRow, environment_rows};
use crate::server::dashboard::page_error::PageResult;
use crate::server::dashboard::render::render;
use crate::server::dashboard::viewer::Viewer;

#[derive(Template)]
#[template(path = "dashboard/environments.html")]
struct EnvironmentsPage {
    layout: Layout,
    rows: Vec<EnvironmentRow>,
}

pub async fn page(State(state): State<ApiState>, viewer: Viewer) -> PageResult<Response> {
    let caller = viewer.caller();
    caller.require(&Need::Read { env: None })?;
    let rows = state
        .run(None, move |ctx| environment_rows(ctx, &caller))
        .await?;
    Ok(render(&EnvironmentsPage {
        layout: Layout::new("Environments", "environments", &viewer),
        rows,
    }))
}

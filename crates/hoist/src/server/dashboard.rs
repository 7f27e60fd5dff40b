//! The web dashboard at `/` of `hoist serve`: server-rendered pages (askama templates
//! compiled in), forms that work without JavaScript, one small embedded script for the live
//! parts (SSE), and a session cookie that stands for a token. Every action goes through the
//! same ops and permission checks as the API; the pages only read and render.

pub mod acting;
pub mod actions;
pub mod admin_answers;
pub mod admin_page;
pub mod assets;
pub mod command_changes;
pub mod commands_page;
pub mod env_filter;
pub mod environment_page;
pub mod environments_page;
pub mod launch_page;
pub mod layout;
pub mod live;
pub mod live_logs;
pub mod logs_page;
pub mod logs_request;
pub mod moment;
pub mod overview;
pub mod page_error;
pub mod render;
pub mod sessions;
pub mod sign_in;
pub mod timeline_page;
pub mod timeline_read;
pub mod viewer;
pub mod when_input;

use axum::Router;
use axum::routing::{get, post};

use crate::server::api_state::ApiState;

/// Every page and form of the dashboard.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/", get(environments_page::page))
        .route("/sign-in", get(sign_in::page).post(sign_in::sign_in))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/env/{env}", get(environment_page::page))
        .route("/env/{env}/confirm", get(actions::confirm))
        .route("/env/{env}/act", post(actions::act))
        .route("/launch", get(launch_page::page).post(launch_page::launch))
        .route("/commands", get(commands_page::list))
        .route("/commands/{id}", get(commands_page::show))
        .route("/commands/{id}/cancel", post(command_changes::cancel))
        .route(
            "/commands/{id}/reschedule",
            post(command_changes::reschedule),
        )
        .route("/live/events", get(live::events))
        .route("/timeline", get(timeline_page::page))
        .route("/logs", get(logs_page::page))
        .route("/live/logs", get(live_logs::logs))
        .route("/assets/dashboard.js", get(assets::script))
        .route("/assets/dashboard.css", get(assets::style))
        .route("/admin", get(admin_page::page))
        .route("/admin/tokens", post(admin_page::token_forms::create))
        .route(
            "/admin/tokens/{id}/revoke",
            get(admin_page::token_forms::confirm_revoke).post(admin_page::token_forms::revoke),
        )
        .route("/admin/webhooks", post(admin_page::webhook_forms::add))
        .route(
            "/admin/webhooks/{id}/remove",
            get(admin_page::webhook_forms::confirm_remove).post(admin_page::webhook_forms::remove),
        )
        .route(
            "/admin/deliveries",
            get(admin_page::webhook_forms::deliveries),
        )
}

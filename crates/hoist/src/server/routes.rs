//! Every route of the API in one table, which builds the router and which the OpenAPI
//! document is checked against. Handlers live in `routes/<resource>.rs`.

pub mod commands;
pub mod environments;
pub mod event_stream;
pub mod events;
pub mod tokens;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode};
use axum::routing::{MethodRouter, delete, get, post};
use hoist_core::EnvName;

use crate::server::api_error::ApiError;
use crate::server::api_input::BODY_LIMIT;
use crate::server::api_state::ApiState;
use crate::server::caller::Caller;
use crate::server::openapi;

#[derive(Debug)]
pub struct Route {
    pub method: Method,
    /// axum's syntax: `/api/commands/{id}`, the same as OpenAPI's.
    pub path: &'static str,
    pub handler: MethodRouter<ApiState>,
}

fn route(method: Method, path: &'static str, handler: MethodRouter<ApiState>) -> Route {
    Route {
        method,
        path,
        handler,
    }
}

/// Every route the API serves.
pub fn table() -> Vec<Route> {
    vec![
        route(
            Method::GET,
            "/api/openapi.json",
            get(openapi::serve_document),
        ),
        route(Method::GET, "/api/environments", get(environments::list)),
        route(
            Method::GET,
            "/api/environments/{env}",
            get(environments::show),
        ),
        route(Method::GET, "/api/commands", get(commands::list)),
        route(Method::POST, "/api/commands", post(commands::create)),
        route(Method::GET, "/api/commands/{id}", get(commands::show)),
        route(
            Method::POST,
            "/api/commands/{id}/cancel",
            post(commands::cancel),
        ),
        route(
            Method::POST,
            "/api/commands/{id}/reschedule",
            post(commands::reschedule),
        ),
        route(Method::GET, "/api/events", get(events::list)),
        route(Method::GET, "/api/events/stream", get(event_stream::stream)),
        route(Method::GET, "/api/tokens", get(tokens::list)),
        route(Method::POST, "/api/tokens", post(tokens::create)),
        route(Method::DELETE, "/api/tokens/{id}", delete(tokens::revoke)),
    ]
}

/// The API's router: the table, the body limit, and the error shape for unknown routes
/// and methods.
pub fn router(state: ApiState) -> Router {
    let mut router = Router::new();
    for route in table() {
        router = router.route(route.path, route.handler);
    }
    router
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn unknown_route(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route `{}`", uri.path()))
        .hint("the routes are listed at `GET /api/openapi.json`")
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("`{}` does not take {method}", uri.path()),
    )
    .hint("the routes and their methods are listed at `GET /api/openapi.json`")
}

/// The environments a listing covers: the one asked for, else every one the caller's grant
/// is limited to, else all (`None`).
pub fn scopes(caller: &Caller, env: Option<EnvName>) -> Vec<Option<EnvName>> {
    match env {
        Some(env) => vec![Some(env)],
        None if caller.token.envs.is_empty() => vec![None],
        None => caller.token.envs.iter().cloned().map(Some).collect(),
    }
}

//! Every route of the API in one table, which both builds the router and generates the
//! OpenAPI document (`openapi.rs`): a route cannot be served undocumented. Handlers live in
//! `routes/<resource>.rs`.

pub mod commands;
pub mod environments;
pub mod event_stream;
pub mod events;
pub mod openapi_document;
pub mod tokens;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use hoist_core::{CommandStatus, EnvName};

use crate::ports::store::Event;
use crate::server::answer_schema::{AnswerSchema, HandlerAnswer};
use crate::server::api_error::ApiError;
use crate::server::api_input::BODY_LIMIT;
use crate::server::api_state::ApiState;
use crate::server::caller::Caller;
use crate::server::dashboard::{self, page_error::PageError};
use crate::server::operation::Operation;
use crate::server::route::Route;
use crate::server::routes::commands::{NewCommandBody, RescheduleBody};
use crate::server::routes::tokens::NewTokenBody;

/// The methods the API uses.
#[derive(Debug, Clone, Copy)]
enum Verb {
    Get,
    Post,
    Delete,
}

/// A route served by `handler`, documented by `operation` and by the handler's return type.
fn route<H, T, A>(verb: Verb, path: &'static str, handler: H, operation: Operation) -> Route
where
    H: Handler<T, ApiState> + HandlerAnswer<A>,
    T: 'static,
{
    let (method, handler) = match verb {
        Verb::Get => (Method::GET, routing::get(handler)),
        Verb::Post => (Method::POST, routing::post(handler)),
        Verb::Delete => (Method::DELETE, routing::delete(handler)),
    };
    Route {
        method,
        path,
        handler,
        operation,
        answer: <H as HandlerAnswer<A>>::Answer::content,
    }
}

/// Every route the API serves, with what the OpenAPI document says of it.
pub fn table() -> Vec<Route> {
    vec![
        route(
            Verb::Get,
            "/api/openapi.json",
            openapi_document::serve_document,
            Operation::new("openapi", "this document"),
        ),
        route(
            Verb::Get,
            "/api/environments",
            environments::list,
            Operation::new("listEnvironments", "environments of the spec and the store")
                .errors(&[403]),
        ),
        route(
            Verb::Get,
            "/api/environments/{env}",
            environments::show,
            Operation::new(
                "showEnvironment",
                "one environment: state, hosts, instances, releases, last command",
            )
            .path::<EnvName>("env", "the environment")
            .errors(&[400, 403, 404]),
        ),
        route(
            Verb::Get,
            "/api/commands",
            commands::list,
            Operation::new("listCommands", "commands, newest first")
                .query::<EnvName>("env", "only this environment")
                .query::<CommandStatus>("status", "only commands with this status")
                .limit(commands::DEFAULT_LIMIT, commands::MAX_LIMIT)
                .errors(&[400, 403]),
        ),
        route(
            Verb::Post,
            "/api/commands",
            commands::create,
            Operation::new("scheduleCommand", "schedule a command, now or `at`")
                .body::<NewCommandBody>()
                .status(202)
                .errors(&[400, 403, 413, 415, 422]),
        ),
        route(
            Verb::Get,
            "/api/commands/{id}",
            commands::show,
            Operation::new("showCommand", "one command with its step log")
                .path::<i64>("id", "the command's id")
                .errors(&[400, 403, 404]),
        ),
        route(
            Verb::Post,
            "/api/commands/{id}/cancel",
            commands::cancel,
            Operation::new("cancelCommand", "cancel a command that has not started")
                .path::<i64>("id", "the command's id")
                .errors(&[400, 403, 404, 409]),
        ),
        route(
            Verb::Post,
            "/api/commands/{id}/reschedule",
            commands::reschedule,
            Operation::new("rescheduleCommand", "move a command that has not started")
                .path::<i64>("id", "the command's id")
                .body::<RescheduleBody>()
                .errors(&[400, 403, 404, 409, 413, 415, 422]),
        ),
        route(
            Verb::Get,
            "/api/events",
            events::list,
            Operation::new("listEvents", "the timeline, oldest first")
                .query::<EnvName>("env", "only this environment")
                .query::<i64>("command", "only this command's events")
                .query::<i64>("after", "only events after this event id")
                .limit(events::DEFAULT_LIMIT, events::MAX_LIMIT)
                .errors(&[400, 403]),
        ),
        route(
            Verb::Get,
            "/api/events/stream",
            event_stream::stream,
            Operation::new(
                "streamEvents",
                "new events as Server-Sent Events: `id:` is the event id, `event:` its kind, \
                 `data:` the event; send `Last-Event-ID` to resume after an event",
            )
            .query::<EnvName>("env", "only this environment")
            .query::<i64>("command", "only this command's events")
            .query::<i64>("after", "start after this event id (default: now)")
            .header::<i64>(
                "Last-Event-ID",
                "resume after this event id (before `after`)",
            )
            .stream_of::<Event>()
            .errors(&[400, 403]),
        ),
        route(
            Verb::Get,
            "/api/tokens",
            tokens::list,
            Operation::new(
                "listTokens",
                "every token, revoked ones too (never a secret or hash); admin",
            )
            .errors(&[403]),
        ),
        route(
            Verb::Post,
            "/api/tokens",
            tokens::create,
            Operation::new(
                "createToken",
                "make a token; the answer holds its secret, shown only this once; admin",
            )
            .body::<NewTokenBody>()
            .status(201)
            .errors(&[400, 403, 413, 415, 422]),
        ),
        route(
            Verb::Delete,
            "/api/tokens/{id}",
            tokens::revoke,
            Operation::new("revokeToken", "revoke a token; admin")
                .path::<i64>("id", "the token's id")
                .errors(&[400, 403, 404, 409]),
        ),
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
        .merge(dashboard::router())
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn unknown_route(uri: axum::http::Uri) -> Response {
    if uri.path() == "/api" || uri.path().starts_with("/api/") {
        return ApiError::not_found(format!("no route `{}`", uri.path()))
            .hint("the routes are listed at `GET /api/openapi.json`")
            .into_response();
    }
    PageError::not_found(format!("no page `{}`", uri.path()))
        .hint("the environments page is at `/`")
        .into_response()
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

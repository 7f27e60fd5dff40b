//! `GET /api/openapi.json`: an OpenAPI 3.1 document of every route, written by hand. A unit
//! test checks it against `routes::table()`, so a route cannot be added undocumented.

use axum::Json;
use serde_json::{Value, json};

use crate::server::api_error::ApiResult;
use crate::server::caller::Caller;

pub async fn serve_document(_caller: Caller) -> ApiResult<Json<Value>> {
    Ok(Json(document()))
}

fn error_responses(codes: &[u16]) -> Value {
    let mut responses = serde_json::Map::new();
    for code in codes {
        responses.insert(
            code.to_string(),
            json!({
                "description": "the one error shape",
                "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
            }),
        );
    }
    Value::Object(responses)
}

fn operation(summary: &str, success: (u16, &str, Value), errors: &[u16]) -> Value {
    let mut responses = error_responses(errors);
    if let Some(map) = responses.as_object_mut() {
        map.insert(
            success.0.to_string(),
            json!({
                "description": success.1,
                "content": { "application/json": { "schema": success.2 } }
            }),
        );
    }
    json!({ "summary": summary, "responses": responses })
}

fn with(mut operation: Value, key: &str, value: Value) -> Value {
    if let Some(map) = operation.as_object_mut() {
        map.insert(key.to_owned(), value);
    }
    operation
}

fn query(name: &str, description: &str, kind: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": kind } })
}

fn in_path(name: &str, kind: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "schema": { "type": kind } })
}

fn body(schema: Value) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": schema } } })
}

fn object() -> Value {
    json!({ "type": "object" })
}

fn list() -> Value {
    json!({ "type": "array", "items": { "type": "object" } })
}

fn stream_responses() -> Value {
    let mut responses = error_responses(&[400, 401, 403]);
    if let Some(map) = responses.as_object_mut() {
        map.insert(
            "200".to_owned(),
            json!({
                "description": "an event stream",
                "content": { "text/event-stream": { "schema": { "type": "string" } } }
            }),
        );
    }
    responses
}

/// The whole document.
pub fn document() -> Value {
    let read = [401, 403];
    let command_id = in_path("id", "integer");
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "hoist",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The API of `hoist serve`. Every call needs `Authorization: Bearer hoist_…`; \
                a missing, unknown or revoked token is a 401, a token whose role or environments do \
                not cover the call a 403. Every failure has the shape of `Error`."
        },
        "security": [{ "bearer": [] }],
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": { "error": {
                        "type": "object",
                        "required": ["status", "code", "message"],
                        "properties": {
                            "status": { "type": "integer" },
                            "code": { "type": "string", "examples": ["bad_request", "unauthorized", "forbidden", "not_found", "conflict", "payload_too_large", "invalid_request"] },
                            "message": { "type": "string" },
                            "hint": { "type": "string" }
                        }
                    } }
                },
                "CommandRequest": {
                    "type": "object",
                    "required": ["kind", "env"],
                    "properties": {
                        "kind": { "enum": ["create", "provision", "configure", "release", "run", "deploy", "rollback", "remove", "prune", "maintenance", "restart", "destroy"] },
                        "env": { "type": "string" },
                        "at": { "type": "string", "format": "date-time", "description": "RFC 3339; default: now" },
                        "start_within": { "type": "string", "description": "e.g. `15m` (the default): expire if not started by then" },
                        "ttl_seconds": { "type": "integer", "description": "deploy: destroy this long after success (needs admin)" },
                        "adopt": { "type": "boolean", "description": "provision, deploy: use deploy roots that hold files hoist did not put there" },
                        "to": { "type": "string", "description": "rollback: the release" },
                        "id": { "type": "string", "description": "remove: the release" },
                        "keep": { "type": "integer", "description": "prune" },
                        "on": { "type": "boolean", "description": "maintenance" }
                    }
                }
            }
        },
        "paths": {
            "/api/openapi.json": {
                "get": operation("this document", (200, "OpenAPI 3.1", object()), &read)
            },
            "/api/environments": {
                "get": operation("environments of the spec and the store", (200, "environments", list()), &read)
            },
            "/api/environments/{env}": {
                "get": with(
                    operation("one environment: state, hosts, instances, releases, last command", (200, "the environment", object()), &[400, 401, 403, 404]),
                    "parameters", json!([in_path("env", "string")]))
            },
            "/api/commands": {
                "get": with(
                    operation("commands, newest first", (200, "commands", list()), &[400, 401, 403]),
                    "parameters", json!([
                        query("env", "only this environment", "string"),
                        query("status", "scheduled, running, succeeded, failed, cancelled, expired, interrupted", "string"),
                        query("limit", "1 to 1000, default 100", "integer")
                    ])),
                "post": with(
                    operation("schedule a command, now or `at`", (202, "the scheduled command", object()), &[400, 401, 403, 413, 415, 422]),
                    "requestBody", body(json!({ "$ref": "#/components/schemas/CommandRequest" })))
            },
            "/api/commands/{id}": {
                "get": with(
                    operation("one command with its step log", (200, "the command", object()), &[400, 401, 403, 404]),
                    "parameters", json!([command_id]))
            },
            "/api/commands/{id}/cancel": {
                "post": with(
                    operation("cancel a command that has not started", (200, "the cancelled command", object()), &[400, 401, 403, 404, 409]),
                    "parameters", json!([command_id]))
            },
            "/api/commands/{id}/reschedule": {
                "post": with(with(
                    operation("move a command that has not started", (200, "the moved command", object()), &[400, 401, 403, 404, 409, 413, 422]),
                    "parameters", json!([command_id])),
                    "requestBody", body(json!({
                        "type": "object",
                        "properties": {
                            "at": { "type": "string", "format": "date-time" },
                            "in": { "type": "string", "description": "from now, e.g. `30m`" },
                            "start_within": { "type": "string" }
                        }
                    })))
            },
            "/api/events": {
                "get": with(
                    operation("the timeline, oldest first", (200, "events", list()), &[400, 401, 403]),
                    "parameters", json!([
                        query("env", "only this environment", "string"),
                        query("command", "only this command", "integer"),
                        query("after", "only events after this id", "integer"),
                        query("limit", "1 to 1000, default 100", "integer")
                    ]))
            },
            "/api/events/stream": {
                "get": with(with(
                    operation("new events as Server-Sent Events (`id:` is the event id; send `Last-Event-ID` to resume)", (200, "text/event-stream", object()), &[400, 401, 403]),
                    "parameters", json!([
                        query("env", "only this environment", "string"),
                        query("command", "only this command", "integer"),
                        query("after", "start after this event id (default: now)", "integer")
                    ])),
                    "responses", stream_responses())
            },
            "/api/tokens": {
                "get": operation("every token, revoked ones too (never a secret or hash); admin", (200, "tokens", list()), &read),
                "post": with(
                    operation("make a token; the answer holds its secret, shown only this once; admin", (201, "the token and its secret", object()), &[400, 401, 403, 413, 415, 422]),
                    "requestBody", body(json!({
                        "type": "object",
                        "required": ["name", "role"],
                        "properties": {
                            "name": { "type": "string", "pattern": "^[a-z0-9-]{1,64}$" },
                            "role": { "enum": ["viewer", "deployer", "admin"] },
                            "envs": { "type": "array", "items": { "type": "string" } }
                        }
                    })))
            },
            "/api/tokens/{id}": {
                "delete": with(
                    operation("revoke a token; admin", (200, "the revoked token", object()), &[400, 401, 403, 404, 409]),
                    "parameters", json!([in_path("id", "integer")]))
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::routes;

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let document = document();
        let paths = document["paths"].as_object().cloned().unwrap_or_default();
        let table = routes::table();
        for route in &table {
            let method = route.method.as_str().to_lowercase();
            assert!(
                paths
                    .get(route.path)
                    .and_then(|path| path.get(&method))
                    .is_some(),
                "{} {} is not in the OpenAPI document",
                route.method,
                route.path
            );
        }
        let documented: usize = paths
            .values()
            .map(|path| path.as_object().map_or(0, serde_json::Map::len))
            .sum();
        assert_eq!(
            documented,
            table.len(),
            "the document lists routes the API does not serve"
        );
    }
}

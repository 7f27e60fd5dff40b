//! `GET /api/openapi.json`: the OpenAPI 3.1 document, generated from the route table
//! (`routes::table()`: paths, methods, parameters, bodies, statuses) and the JSON Schemas
//! (schemars) of the Rust types the handlers read and answer. The router is built from the
//! same table, so a route cannot be served undocumented.

use axum::http::StatusCode;
use schemars::SchemaGenerator;
use schemars::generate::{Contract, SchemaSettings};
use serde_json::{Map, Value, json};

use crate::server::api_error;
use crate::server::operation::{Location, Operation};
use crate::server::route::Route;

/// Where named schemas live in the document.
const SCHEMAS: &str = "/components/schemas";

/// Schemas of what the API answers (a field always sent is required) and of what it reads
/// (a field with a default may be left out).
struct Generators {
    answers: SchemaGenerator,
    inputs: SchemaGenerator,
}

impl Generators {
    fn new() -> Self {
        let generator = |contract: Contract| {
            SchemaSettings::draft2020_12()
                .with(|settings| {
                    settings.definitions_path = SCHEMAS.into();
                    settings.meta_schema = None;
                    settings.contract = contract;
                })
                .into_generator()
        };
        Self {
            answers: generator(Contract::Serialize),
            inputs: generator(Contract::Deserialize),
        }
    }

    /// Every named schema. A type both read and answered has one schema (a unit test
    /// checks the two contracts agree on each).
    fn into_schemas(mut self) -> Map<String, Value> {
        let mut schemas = self.answers.take_definitions(true);
        for (name, schema) in self.inputs.take_definitions(true) {
            schemas.entry(name).or_insert(schema);
        }
        schemas
    }
}

pub fn build(table: &[Route]) -> Value {
    let mut generators = Generators::new();
    let mut paths = Map::new();
    for route in table {
        let operation = operation(route, &mut generators);
        let methods = paths
            .entry(route.path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(methods) = methods.as_object_mut() {
            methods.insert(route.method.as_str().to_lowercase(), operation);
        }
    }
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
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": generators.into_schemas(),
        }
    })
}

fn operation(route: &Route, generators: &mut Generators) -> Value {
    let described: &Operation = &route.operation;
    let mut operation = Map::new();
    operation.insert("operationId".to_owned(), json!(described.id));
    operation.insert("summary".to_owned(), json!(described.summary));
    let parameters: Vec<Value> = described
        .parameters
        .iter()
        .map(|parameter| {
            json!({
                "name": parameter.name,
                "in": parameter.location.as_str(),
                "required": parameter.location == Location::Path,
                "description": parameter.description,
                "schema": (parameter.schema)(&mut generators.inputs),
            })
        })
        .collect();
    if !parameters.is_empty() {
        operation.insert("parameters".to_owned(), Value::Array(parameters));
    }
    if let Some(body) = &described.body {
        operation.insert(
            "requestBody".to_owned(),
            json!({
                "required": true,
                "content": { "application/json": { "schema": body(&mut generators.inputs) } }
            }),
        );
    }
    operation.insert(
        "responses".to_owned(),
        Value::Object(responses(route, generators)),
    );
    operation.insert("security".to_owned(), json!([{ "bearer": [] }]));
    Value::Object(operation)
}

fn responses(route: &Route, generators: &mut Generators) -> Map<String, Value> {
    let described = &route.operation;
    let answers = &mut generators.answers;
    let answer = (route.answer)(answers);
    let mut media = Map::new();
    media.insert("schema".to_owned(), answer.schema.to_value());
    if let Some(data) = &described.stream_data {
        // Each message, as OpenAPI 3.2's `itemSchema` would say it.
        media.insert(
            "x-item-schema".to_owned(),
            json!({
                "type": "object",
                "required": ["id", "event", "data"],
                "properties": {
                    "id": { "type": "string", "description": "the event's id" },
                    "event": { "type": "string", "description": "the event's kind" },
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": data(answers),
                    },
                },
            }),
        );
    }
    let mut responses = Map::new();
    responses.insert(
        described.status.to_string(),
        json!({
            "description": reason(described.status),
            "content": { answer.media_type: media },
        }),
    );
    let error = answers.subschema_for::<api_error::Body<'static>>();
    let mut errors = vec![401, 500];
    errors.extend_from_slice(described.errors);
    errors.sort_unstable();
    for status in errors {
        let mut response = json!({
            "description": error_description(status),
            "content": { "application/json": { "schema": error } },
        });
        if status == 401 {
            response["headers"] = json!({
                "WWW-Authenticate": {
                    "description": "`Bearer realm=\"hoist\"`",
                    "schema": { "type": "string" },
                }
            });
        }
        responses.insert(status.to_string(), response);
    }
    responses
}

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("success")
}

/// What an error status means in this API.
fn error_description(status: u16) -> &'static str {
    match status {
        400 => "malformed: a path segment, query parameter or JSON body that cannot be read",
        401 => "no token, or an unknown or revoked one",
        403 => "the token's role or environments do not cover the call",
        404 => "no such environment, command or token",
        409 => "the command or token is no longer in a state that allows this",
        413 => "the body is larger than 64 KiB",
        415 => "the body is not JSON (`Content-Type: application/json`)",
        422 => "well-formed, but not something the API can do",
        500 => "an unexpected error; the server's log has the details",
        _ => "an error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::routes;
    use crate::server::routes::openapi_document::document;

    fn refs(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    found.push(reference.clone());
                }
                map.values().for_each(|value| refs(value, found));
            }
            Value::Array(items) => items.iter().for_each(|value| refs(value, found)),
            _ => {}
        }
    }

    #[test]
    fn every_route_is_documented_once_with_a_unique_id() {
        let table = routes::table();
        let document = build(&table);
        let paths = document["paths"].as_object().cloned().unwrap_or_default();
        for route in &table {
            let method = route.method.as_str().to_lowercase();
            let operation = &paths[route.path][&method];
            assert_eq!(operation["operationId"], route.operation.id);
            assert!(
                operation["responses"][route.operation.status.to_string()]["content"].is_object(),
                "{} {} has no success answer",
                route.method,
                route.path
            );
        }
        let documented: usize = paths
            .values()
            .map(|path| path.as_object().map_or(0, Map::len))
            .sum();
        assert_eq!(documented, table.len(), "a route is in the table twice");
        let mut ids: Vec<_> = table.iter().map(|route| route.operation.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), table.len(), "operation ids are not unique");
    }

    #[test]
    fn path_parameters_are_the_segments_of_the_path() {
        for route in routes::table() {
            let mut segments: Vec<&str> = route
                .path
                .split('/')
                .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            let mut declared: Vec<&str> = route
                .operation
                .parameters
                .iter()
                .filter(|parameter| parameter.location == Location::Path)
                .map(|parameter| parameter.name)
                .collect();
            segments.sort_unstable();
            declared.sort_unstable();
            assert_eq!(segments, declared, "{}", route.path);
        }
    }

    #[test]
    fn every_reference_names_a_schema_of_the_document() {
        let document = document();
        let mut found = Vec::new();
        refs(document, &mut found);
        assert!(found.len() > 20, "{found:?}");
        for reference in found {
            let pointer = reference.trim_start_matches('#');
            assert!(
                pointer.starts_with(SCHEMAS) && document.pointer(pointer).is_some(),
                "`{reference}` does not resolve"
            );
        }
    }

    #[test]
    fn answers_and_inputs_agree_on_every_schema_they_share() {
        let mut generators = Generators::new();
        build_into(&mut generators);
        let answers = generators.answers.take_definitions(true);
        let inputs = generators.inputs.take_definitions(true);
        for (name, schema) in &inputs {
            if let Some(answered) = answers.get(name) {
                assert_eq!(
                    answered, schema,
                    "`{name}` differs between answers and inputs"
                );
            }
        }
    }

    /// Runs every route's schemas through `generators`.
    fn build_into(generators: &mut Generators) {
        for route in routes::table() {
            operation(&route, generators);
        }
    }

    #[test]
    fn answers_have_their_types_schemas() {
        let document = document();
        let answer = |path: &str, method: &str, status: &str| {
            document["paths"][path][method]["responses"][status]["content"].clone()
        };
        let schema = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
        assert_eq!(
            answer("/api/commands/{id}", "get", "200")["application/json"]["schema"],
            schema("CommandRecord")
        );
        assert_eq!(
            answer("/api/commands", "post", "202")["application/json"]["schema"],
            schema("Scheduled")
        );
        assert_eq!(
            answer("/api/environments/{env}", "get", "200")["application/json"]["schema"],
            schema("EnvironmentView")
        );
        assert_eq!(
            answer("/api/tokens", "post", "201")["application/json"]["schema"],
            schema("CreatedToken")
        );
        assert_eq!(
            answer("/api/commands", "get", "403")["application/json"]["schema"],
            schema("Error")
        );
        let stream = answer("/api/events/stream", "get", "200");
        assert_eq!(
            stream["text/event-stream"]["x-item-schema"]["properties"]["data"]["contentSchema"],
            schema("Event")
        );
        let record = &document["components"]["schemas"]["CommandRecord"];
        assert!(
            record["required"]
                .as_array()
                .is_some_and(|required| required.contains(&json!("steps"))),
            "{record}"
        );
    }
}

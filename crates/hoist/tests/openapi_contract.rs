//! The OpenAPI document as a contract for the tests: the official OpenAPI 3.1 meta-schemas
//! (vendored under `tests/data/openapi-3.1/`), and every real answer checked against the
//! schema the document declares for its route, status and media type.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::Read;
use std::time::{Duration, Instant};

use jsonschema::Registry;
use serde_json::{Value, json};

use crate::api_server::{Reply, Server};

const META_SCHEMAS: [(&str, &str); 4] = [
    (
        "https://spec.openapis.org/oas/3.1/schema/2022-10-07",
        include_str!("data/openapi-3.1/schema-2022-10-07.json"),
    ),
    (
        "https://spec.openapis.org/oas/3.1/schema-base/2022-10-07",
        include_str!("data/openapi-3.1/schema-base-2022-10-07.json"),
    ),
    (
        "https://spec.openapis.org/oas/3.1/dialect/base",
        include_str!("data/openapi-3.1/dialect-base.json"),
    ),
    (
        "https://spec.openapis.org/oas/3.1/meta/base",
        include_str!("data/openapi-3.1/meta-base.json"),
    ),
];

/// The meta-schema's errors for `document`, against the structure (`schema`) and with every
/// Schema Object checked against the OpenAPI dialect of JSON Schema 2020-12 (`schema-base`).
pub fn meta_schema_errors(document: &Value) -> Vec<String> {
    let mut registry = Registry::new();
    for (uri, text) in META_SCHEMAS {
        let contents: Value = serde_json::from_str(text).expect("a vendored meta-schema");
        registry = registry.add(uri, contents).expect("a meta-schema's uri");
    }
    let registry = registry
        .prepare()
        .expect("the meta-schemas resolve offline");
    let mut errors = Vec::new();
    for (uri, _) in &META_SCHEMAS[..2] {
        let validator = jsonschema::options()
            .with_registry(&registry)
            .offline()
            .should_validate_formats(true)
            .build(&json!({ "$ref": uri }))
            .expect("a validator for the meta-schema");
        errors.extend(
            validator
                .iter_errors(document)
                .map(|error| format!("{uri}: {} at {}", error, error.instance_path())),
        );
    }
    errors
}

/// Every object schema with `properties` made closed (`unevaluatedProperties: false`), so
/// an answer with a field its schema does not name fails too. Objects that say what they
/// allow besides (`additionalProperties`) are left as they are.
fn closed(mut schema: Value) -> Value {
    close(&mut schema);
    schema
}

fn close(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !map.contains_key("unevaluatedProperties")
            {
                map.insert("unevaluatedProperties".to_owned(), Value::Bool(false));
            }
            map.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

pub struct Contract {
    pub document: Value,
    components: Value,
    /// What was answered: (path, method, status).
    seen: RefCell<BTreeSet<(String, String, u16)>>,
}

impl Contract {
    pub fn new(document: Value) -> Self {
        let components = closed(document["components"].clone());
        Self {
            document,
            components,
            seen: RefCell::new(BTreeSet::new()),
        }
    }

    /// Every (path, method) the document lists.
    pub fn operations(&self) -> Vec<(String, String)> {
        let mut operations = Vec::new();
        for (path, methods) in self.document["paths"].as_object().expect("paths") {
            for method in methods.as_object().expect("a path item").keys() {
                operations.push((path.clone(), method.to_uppercase()));
            }
        }
        operations
    }

    pub fn operation(&self, path: &str, method: &str) -> &Value {
        let operation = &self.document["paths"][path][method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {path} is not in the document"
        );
        operation
    }

    /// The names of the operation's parameters in `location` (`query`, `path`, `header`).
    pub fn parameters(&self, path: &str, method: &str, location: &str) -> BTreeSet<String> {
        let parameters = self.operation(path, method)["parameters"].as_array();
        parameters
            .into_iter()
            .flatten()
            .filter(|parameter| parameter["in"] == location)
            .map(|parameter| parameter["name"].as_str().expect("a name").to_owned())
            .collect()
    }

    /// `schema`'s errors for `instance`, `$ref`s resolved in the document's components.
    pub fn errors(&self, schema: &Value, instance: &Value) -> Vec<String> {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.components,
            "allOf": [closed(schema.clone())],
        });
        let validator = jsonschema::options()
            .offline()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|error| panic!("cannot build a validator for {schema}: {error}"));
        validator
            .iter_errors(instance)
            .map(|error| format!("{error} at `{}`", error.instance_path()))
            .collect()
    }

    /// The errors of `body` against the operation's JSON request body schema.
    pub fn request_errors(&self, path: &str, method: &str, body: &str) -> Vec<String> {
        let schema =
            &self.operation(path, method)["requestBody"]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{method} {path} takes no JSON body");
        let body: Value = serde_json::from_str(body).expect("a JSON body");
        self.errors(schema, &body)
    }

    /// Calls `concrete` (an instance of the documented `path`) and checks the answer.
    pub fn call(
        &self,
        server: &Server,
        method: &str,
        (path, concrete): (&str, &str),
        token: Option<&str>,
        body: Option<&str>,
    ) -> Reply {
        let reply = server.call(method, concrete, token, body);
        self.check(method, path, &reply);
        reply
    }

    /// The answer's status is declared for the operation, its media type too, and a JSON
    /// answer matches the declared schema.
    #[track_caller]
    pub fn check(&self, method: &str, path: &str, reply: &Reply) {
        let response = &self.operation(path, method)["responses"][reply.status.to_string()];
        assert!(
            response.is_object(),
            "{method} {path} answered {}, which the document does not declare:\n{reply:#?}",
            reply.status
        );
        let media_type = content_type(reply);
        let declared = &response["content"][media_type.as_str()];
        assert!(
            declared.is_object(),
            "{method} {path} answered {} as `{media_type}`, not declared:\n{reply:#?}",
            reply.status
        );
        if media_type == "application/json" {
            let errors = self.errors(&declared["schema"], &reply.json());
            let body: String = reply.body.chars().take(4000).collect();
            assert!(
                errors.is_empty(),
                "{method} {path} answered {} outside its schema:\n{}\n{body}",
                reply.status,
                errors.join("\n")
            );
        }
        self.saw(path, method, reply.status);
    }

    /// Records an answer checked elsewhere (the event stream's).
    pub fn saw(&self, path: &str, method: &str, status: u16) {
        self.seen
            .borrow_mut()
            .insert((path.to_owned(), method.to_owned(), status));
    }

    /// The first `count` messages of `GET /api/events/stream` from the start, checked against
    /// the document's stream description.
    pub fn check_stream(&self, server: &Server, token: &str, count: usize) {
        let mut stream = server.open("/api/events/stream?after=0", token, &[]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut body = String::new();
        let mut buffer = [0u8; 4096];
        while body.split("\n\n").count() <= count {
            assert!(
                Instant::now() < deadline,
                "the stream did not bring {count}:\n{body}"
            );
            match stream.body.read(&mut buffer) {
                Ok(0) => panic!("the stream ended early:\n{body}"),
                Ok(n) => body.push_str(&String::from_utf8_lossy(&buffer[..n])),
                Err(error) => panic!("reading the stream: {error}\n{body}"),
            }
        }
        let head = &stream.head;
        assert_eq!(stream.status, 200, "{head}");
        let operation = self.operation("/api/events/stream", "GET");
        let media = &operation["responses"]["200"]["content"]["text/event-stream"];
        assert!(head.contains("content-type: text/event-stream"), "{head}");
        self.saw("/api/events/stream", "GET", 200);
        let item = &media["x-item-schema"];
        for message in body.split("\n\n").take(count) {
            let mut fields = serde_json::Map::new();
            for line in message.lines() {
                let (name, value) = line.split_once(": ").unwrap_or((line, ""));
                fields.insert(name.to_owned(), Value::String(value.to_owned()));
            }
            let fields = Value::Object(fields);
            let errors = self.errors(item, &fields);
            assert!(errors.is_empty(), "{errors:?}\n{message}");
            let data: Value = serde_json::from_str(fields["data"].as_str().unwrap()).unwrap();
            let errors = self.errors(&item["properties"]["data"]["contentSchema"], &data);
            assert!(errors.is_empty(), "{errors:?}\n{message}");
            assert_eq!(fields["id"], data["id"].to_string(), "{message}");
            assert_eq!(fields["event"], data["kind"], "{message}");
        }
    }

    /// Every operation, called without a token: a 401 with its declared shape.
    pub fn check_refused_without_token(&self, server: &Server) {
        for (path, method) in self.operations() {
            let concrete = path.replace("{env}", "dev").replace("{id}", "1");
            self.call(server, &method, (&path, &concrete), None, None)
                .error(401, "unauthorized");
        }
    }

    /// Every operation answered its documented success status and at least one error.
    #[track_caller]
    pub fn assert_every_operation_answered(&self) {
        for (path, method) in self.operations() {
            let responses = self.operation(&path, &method)["responses"].as_object();
            let success: Vec<u16> = responses
                .into_iter()
                .flat_map(|responses| responses.keys())
                .filter_map(|status| status.parse().ok())
                .filter(|status| (200..300).contains(status))
                .collect();
            let seen = self.seen(&path, &method);
            assert!(
                success.iter().all(|status| seen.contains(status)),
                "{method} {path} never answered {success:?}: {seen:?}"
            );
            assert!(
                seen.iter().any(|status| *status >= 400),
                "{method} {path} answered no error: {seen:?}"
            );
        }
    }

    /// The statuses seen for an operation.
    pub fn seen(&self, path: &str, method: &str) -> Vec<u16> {
        self.seen
            .borrow()
            .iter()
            .filter(|(p, m, _)| p == path && m == method)
            .map(|(_, _, status)| *status)
            .collect()
    }
}

/// The answer's media type, without parameters.
pub fn content_type(reply: &Reply) -> String {
    reply
        .head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.split(';').next().unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default()
}

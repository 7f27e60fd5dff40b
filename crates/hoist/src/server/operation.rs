//! What the OpenAPI document says about one route, written beside the route in
//! `routes::table()`: its id and summary, parameters, request body, success status and the
//! errors it can answer. The success answer's schema is not written here: the table takes it
//! from the handler's return type (`answer_schema`), so it cannot differ from what is sent.

use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator};

/// Makes a schema with the document's generator (named types become `$ref`s).
pub type SchemaFn = Box<dyn Fn(&mut SchemaGenerator) -> Schema + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Header,
}

impl Location {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Header => "header",
        }
    }
}

pub struct Parameter {
    pub name: &'static str,
    pub location: Location,
    pub description: &'static str,
    pub schema: SchemaFn,
}

impl fmt::Debug for Parameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parameter")
            .field("name", &self.name)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

pub struct Operation {
    /// Unique across the API: what a generated client names the call.
    pub id: &'static str,
    pub summary: &'static str,
    pub parameters: Vec<Parameter>,
    /// The JSON request body (`None`: the route reads no body).
    pub body: Option<SchemaFn>,
    /// The success status (the handler's answer type says what comes with it).
    pub status: u16,
    /// A stream's messages: each one's `data:` (JSON) has this schema.
    pub stream_data: Option<SchemaFn>,
    /// Error statuses besides 401 and 500, which every route can answer.
    pub errors: &'static [u16],
}

impl fmt::Debug for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operation")
            .field("id", &self.id)
            .field("parameters", &self.parameters)
            .field("status", &self.status)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl Operation {
    pub fn new(id: &'static str, summary: &'static str) -> Self {
        Self {
            id,
            summary,
            parameters: Vec::new(),
            body: None,
            status: 200,
            stream_data: None,
            errors: &[],
        }
    }

    /// A path segment (`{name}` in the route's path).
    pub fn path<T: JsonSchema>(self, name: &'static str, description: &'static str) -> Self {
        self.parameter(name, Location::Path, description, schema_of::<T>())
    }

    /// An optional query parameter.
    pub fn query<T: JsonSchema>(self, name: &'static str, description: &'static str) -> Self {
        self.parameter(name, Location::Query, description, schema_of::<T>())
    }

    /// An optional request header.
    pub fn header<T: JsonSchema>(self, name: &'static str, description: &'static str) -> Self {
        self.parameter(name, Location::Header, description, schema_of::<T>())
    }

    /// The optional `limit` query parameter `QueryParams::limit` reads.
    pub fn limit(self, default: usize, max: usize) -> Self {
        let schema = move |_: &mut SchemaGenerator| {
            schemars::json_schema!({
                "type": "integer",
                "minimum": 1,
                "maximum": max,
                "default": default,
            })
        };
        self.parameter(
            "limit",
            Location::Query,
            "at most this many",
            Box::new(schema),
        )
    }

    fn parameter(
        mut self,
        name: &'static str,
        location: Location,
        description: &'static str,
        schema: SchemaFn,
    ) -> Self {
        self.parameters.push(Parameter {
            name,
            location,
            description,
            schema,
        });
        self
    }

    /// The JSON body the route reads.
    pub fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(schema_of::<T>());
        self
    }

    /// A success status other than 200.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// A stream whose messages carry a `T` as JSON in `data:`.
    pub fn stream_of<T: JsonSchema>(mut self) -> Self {
        self.stream_data = Some(schema_of::<T>());
        self
    }

    pub fn errors(mut self, errors: &'static [u16]) -> Self {
        self.errors = errors;
        self
    }
}

fn schema_of<T: JsonSchema>() -> SchemaFn {
    Box::new(|generator: &mut SchemaGenerator| generator.subschema_for::<T>())
}

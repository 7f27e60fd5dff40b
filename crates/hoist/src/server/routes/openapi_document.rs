//! `GET /api/openapi.json`: the document `openapi::build` makes of the route table, built
//! once.

use std::borrow::Cow;
use std::sync::OnceLock;

use axum::Json;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;
use serde_json::Value;

use crate::server::api_error::ApiResult;
use crate::server::caller::Caller;
use crate::server::openapi;
use crate::server::routes;

pub async fn serve_document(_caller: Caller) -> ApiResult<Json<OpenApiDocument>> {
    Ok(Json(OpenApiDocument(document())))
}

/// The document as served.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct OpenApiDocument(&'static Value);

impl JsonSchema for OpenApiDocument {
    fn schema_name() -> Cow<'static, str> {
        "OpenApiDocument".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "an OpenAPI 3.1 document (https://spec.openapis.org/oas/3.1/schema/2022-10-07)",
            "type": "object",
            "required": ["openapi", "info", "paths"],
            "properties": { "openapi": { "type": "string", "pattern": "^3\\.1\\.\\d+$" } },
            "additionalProperties": true,
        })
    }
}

/// The whole document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| openapi::build(&routes::table()))
}

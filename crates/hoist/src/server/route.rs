//! One route of the API: its method and path, the handler that serves it, and what the
//! OpenAPI document says of it.

use std::fmt;

use axum::http::Method;
use axum::routing::MethodRouter;
use schemars::SchemaGenerator;

use crate::server::answer_schema::Content;
use crate::server::api_state::ApiState;
use crate::server::operation::Operation;

pub struct Route {
    pub method: Method,
    /// axum's syntax: `/api/commands/{id}`, the same as OpenAPI's.
    pub path: &'static str,
    pub handler: MethodRouter<ApiState>,
    pub operation: Operation,
    /// The success answer's media type and schema: the handler's return type's.
    pub answer: fn(&mut SchemaGenerator) -> Content,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("operation", &self.operation)
            .finish_non_exhaustive()
    }
}

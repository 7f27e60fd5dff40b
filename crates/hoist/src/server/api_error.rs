//! The one error shape of the API, for every failure — refused tokens, unknown routes,
//! bad JSON, oversized bodies, failed ops:
//! `{"error":{"status":400,"code":"bad_request","message":"…","hint":"…"}}`.
//! Unexpected errors are logged on stderr and answered as a bare 500.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hoist_core::access::Denied;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;

use crate::error::{Error, ErrorKind};

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

/// Every error answer's body.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Error")]
pub struct Body<'a> {
    error: Shape<'a>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "ErrorDetail")]
struct Shape<'a> {
    /// The HTTP status again.
    status: u16,
    /// What kind of failure, for programs.
    #[schemars(schema_with = "code_schema")]
    code: &'a str,
    /// One line for people; never holds a secret.
    message: &'a str,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<&'a str>,
}

/// Every `code` an error answer can have.
pub const CODES: [&str; 10] = [
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "payload_too_large",
    "unsupported_media_type",
    "invalid_request",
    "internal",
];

fn code_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "enum": CODES })
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message).hint(
            "send `Authorization: Bearer hoist_…`; an admin makes tokens with `hoist tokens create NAME --role viewer`",
        )
    }

    pub fn forbidden(denied: &Denied) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", denied.reason.clone())
            .hint("ask an admin for a token with that role or environment")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// Well-formed, but not something the API can do (an unknown kind, a past time).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server's log has the details",
        )
    }

    /// A failed op: input it refused is a 422, a held environment a 409, anything else a
    /// logged 500.
    pub fn from_error(error: &Error, failed_status: StatusCode) -> Self {
        match error.kind {
            ErrorKind::Failed => {
                let code = code_of(failed_status);
                let mut answer = Self::new(failed_status, code, error.message.clone());
                answer.hint = error.hints.first().cloned();
                answer
            }
            ErrorKind::Locked => {
                let mut answer = Self::conflict(error.message.clone());
                answer.hint = error.hints.first().cloned();
                answer
            }
            ErrorKind::Internal => {
                tracing::error!("hoist serve: {error}");
                Self::internal()
            }
        }
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        Self::from_error(&error, StatusCode::UNPROCESSABLE_ENTITY)
    }
}

/// The code for a status, for errors made from a status alone (axum's rejections).
pub fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::CONFLICT => "conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        status if status.is_server_error() => "internal",
        _ => "bad_request",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Every error answer passes here: known secret values never leave in one.
        let known = crate::known_secrets::KnownSecrets::process();
        let message = known.mask(&self.message);
        let hint = self.hint.as_deref().map(|hint| known.mask(hint));
        let body = Body {
            error: Shape {
                status: self.status.as_u16(),
                code: self.code,
                message: &message,
                hint: hint.as_deref(),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"hoist\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_an_answer_can_have_is_documented() {
        let denied = Denied {
            reason: "no".to_owned(),
        };
        let made = [
            ApiError::unauthorized("x"),
            ApiError::forbidden(&denied),
            ApiError::not_found("x"),
            ApiError::bad_request("x"),
            ApiError::invalid("x"),
            ApiError::conflict("x"),
            ApiError::internal(),
        ];
        let from_statuses = (100..=599)
            .filter_map(|code| StatusCode::from_u16(code).ok())
            .map(code_of);
        for code in made.iter().map(|error| error.code).chain(from_statuses) {
            assert!(CODES.contains(&code), "`{code}` is not in CODES");
        }
    }
}

//! Reading requests: JSON bodies and query strings, with every rejection turned into the
//! one error shape (400 for malformed JSON or queries, 413 past the body limit, 415 without
//! a JSON content type, 422 for well-formed input the API cannot take).

use std::str::FromStr;

use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::server::api_error::{ApiError, ApiResult, code_of};

/// The largest request body the API reads.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON body as `T`, or the rejection as an `ApiError`.
pub fn json<T>(body: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    match body {
        Ok(Json(value)) => Ok(value),
        Err(rejection) => {
            let status = rejection.status();
            let message = match &rejection {
                JsonRejection::JsonSyntaxError(_) => "the body is not valid JSON".to_owned(),
                JsonRejection::JsonDataError(_) => "the body does not fit this route".to_owned(),
                JsonRejection::MissingJsonContentType(_) => {
                    "the body must be JSON (`Content-Type: application/json`)".to_owned()
                }
                _ if status == StatusCode::PAYLOAD_TOO_LARGE => {
                    format!("the body is larger than {} KiB", BODY_LIMIT / 1024)
                }
                _ => "cannot read the body".to_owned(),
            };
            Err(ApiError::new(status, code_of(status), message).hint(rejection.body_text()))
        }
    }
}

/// A JSON object's fields as `T`, refusing unknown fields and wrong types with a 422.
pub fn fields<T: DeserializeOwned>(value: serde_json::Value) -> ApiResult<T> {
    serde_json::from_value(value).map_err(|error| ApiError::invalid(error.to_string()))
}

/// A path segment as `T`, or a 400 naming what it should have been.
pub fn path<T>(
    segment: Result<axum::extract::Path<String>, PathRejection>,
    what: &str,
) -> ApiResult<T>
where
    T: FromStr,
{
    let text = segment
        .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?
        .0;
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("`{text}` is not a valid {what}")))
}

/// The query string's pairs, refusing names not in `known` (a typo is not ignored).
#[derive(Debug, Default)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    pub fn read(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
        known: &[&str],
    ) -> ApiResult<Self> {
        let pairs = query
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))?
            .0;
        if let Some((name, _)) = pairs
            .iter()
            .find(|(name, _)| !known.contains(&name.as_str()))
        {
            let names: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
            return Err(
                ApiError::bad_request(format!("unknown query parameter `{name}`"))
                    .hint(format!("this route takes {}", names.join(", "))),
            );
        }
        Ok(Self { pairs })
    }

    /// The parameter `name` parsed as `T` (empty counts as absent).
    pub fn get<T>(&self, name: &str) -> ApiResult<Option<T>>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let Some((_, text)) = self
            .pairs
            .iter()
            .rev()
            .find(|(key, value)| key == name && !value.is_empty())
        else {
            return Ok(None);
        };
        text.parse().map(Some).map_err(|error: T::Err| {
            ApiError::bad_request(format!("query parameter `{name}`: {error}"))
        })
    }

    /// `limit`: 1 to `max`, default `default`.
    pub fn limit(&self, default: usize, max: usize) -> ApiResult<usize> {
        match self.get::<usize>("limit")? {
            None => Ok(default),
            Some(limit) if (1..=max).contains(&limit) => Ok(limit),
            Some(limit) => Err(ApiError::bad_request(format!(
                "query parameter `limit`: {limit} is not between 1 and {max}"
            ))),
        }
    }
}

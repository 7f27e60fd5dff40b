//! The schema of a handler's success answer, read from its return type: a handler
//! `async fn(…) -> ApiResult<Json<T>>` answers `application/json` with `T`'s schema, one
//! returning `ApiResult<Sse<…>>` answers `text/event-stream`. The route table asks this of
//! every handler, so the OpenAPI document describes what the handler really returns.

use std::future::Future;

use axum::Json;
use axum::http::StatusCode;
use axum::response::sse::Sse;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use crate::server::api_error::ApiResult;

/// A success answer's media type and schema.
#[derive(Debug, Clone)]
pub struct Content {
    pub media_type: &'static str,
    pub schema: Schema,
}

/// What a handler may answer on success.
pub trait AnswerSchema {
    fn content(generator: &mut SchemaGenerator) -> Content;
}

impl<T: JsonSchema> AnswerSchema for Json<T> {
    fn content(generator: &mut SchemaGenerator) -> Content {
        Content {
            media_type: "application/json",
            schema: generator.subschema_for::<T>(),
        }
    }
}

/// A JSON answer with a status other than 200 (the route's `Operation::status` says which).
impl<T: JsonSchema> AnswerSchema for (StatusCode, Json<T>) {
    fn content(generator: &mut SchemaGenerator) -> Content {
        Json::<T>::content(generator)
    }
}

/// Server-Sent Events: the body is text; `Operation::stream_of` describes each message.
impl<S> AnswerSchema for Sse<S> {
    fn content(_: &mut SchemaGenerator) -> Content {
        Content {
            media_type: "text/event-stream",
            schema: json_schema!({ "type": "string" }),
        }
    }
}

/// The success answer of a handler taking `Args`: what its future yields inside `Ok`.
pub trait HandlerAnswer<Args> {
    type Answer: AnswerSchema;
}

macro_rules! handler_answer {
    ($($arg:ident),*) => {
        impl<F, Fut, A, $($arg,)*> HandlerAnswer<($($arg,)*)> for F
        where
            F: FnOnce($($arg),*) -> Fut,
            Fut: Future<Output = ApiResult<A>>,
            A: AnswerSchema,
        {
            type Answer = A;
        }
    };
}

handler_answer!();
handler_answer!(T1);
handler_answer!(T1, T2);
handler_answer!(T1, T2, T3);
handler_answer!(T1, T2, T3, T4);

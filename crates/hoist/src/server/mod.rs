//! `hoist serve`: the REST API (axum on tokio) and the background tasks of a controller,
//! over one `Session`. Handlers only translate: they check the caller's grant, run one op
//! on a blocking thread and answer JSON; every failure is one `ApiError` shape.

pub mod answer_schema;
pub mod api_error;
pub mod api_input;
pub mod api_state;
pub mod caller;
pub mod dashboard;
pub mod openapi;
pub mod operation;
pub mod route;
pub mod routes;
pub mod serve;
pub mod shutdown_signal;
pub mod warm_connections;

pub use serve::{ServeOptions, serve};
pub use shutdown_signal::ShutdownSignal;

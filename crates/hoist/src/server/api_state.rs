//! What every handler shares: the app (spec + store) and the shutdown signal. Store
//! calls block, so ops run on tokio's blocking threads (`run`), never on a worker.

use std::sync::Arc;

use crate::app::App;
use crate::error::Result;
use crate::ops::Context;
use crate::server::api_error::{ApiError, ApiResult};
use crate::server::dashboard::sessions::Sessions;
use crate::server::shutdown_signal::ShutdownSignal;

#[derive(Debug, Clone)]
pub struct ApiState {
    pub app: Arc<App>,
    pub shutdown: ShutdownSignal,
    /// The dashboard's signed-in sessions.
    pub sessions: Arc<Sessions>,
}

impl ApiState {
    /// Runs `work` over a context on a blocking thread; `actor` names who asks (recorded on
    /// what the op writes).
    pub async fn run<T, F>(&self, actor: Option<String>, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Context<'_>) -> Result<T> + Send + 'static,
    {
        self.run_raw(actor, move |ctx| work(ctx).map_err(ApiError::from))
            .await
    }

    /// Like `run`, for work that maps its own errors.
    pub async fn run_raw<T, F>(&self, actor: Option<String>, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Context<'_>) -> ApiResult<T> + Send + 'static,
    {
        let app = Arc::clone(&self.app);
        tokio::task::spawn_blocking(move || {
            let mut ctx = app.context();
            if let Some(actor) = actor {
                ctx.actor.name = actor;
            }
            work(&ctx)
        })
        .await
        .map_err(|error| {
            tracing::error!("hoist serve: a request's work failed: {error}");
            ApiError::internal()
        })?
    }
}

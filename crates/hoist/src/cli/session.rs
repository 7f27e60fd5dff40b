//! How the command line builds the application context (`crate::app::App`) from its
//! global options, and the one other choice it makes: with `HOIST_SERVER` set, the daemon to
//! talk to instead of the store. Besides secrets, the only place that reads environment
//! variables.

use std::sync::Arc;

use hoist_core::EnvName;

use crate::adapters::api_client::ApiClient;
use crate::app::{App, AppOptions};
use crate::cli::args::GlobalArgs;
use crate::cli::progress_printer::ProgressPrinter;
use crate::error::Result;
use crate::known_secrets::KnownSecrets;

/// The application's options as the global flags give them.
pub fn app_options(global: &GlobalArgs) -> AppOptions {
    AppOptions {
        spec: global.spec.clone(),
        state: global.state.clone(),
        lock_wait: global.lock_wait,
        host_filter: global.hosts.clone(),
    }
}

/// The progress printer for this terminal (or none with `--json`).
pub fn printer(global: &GlobalArgs) -> Arc<ProgressPrinter> {
    Arc::new(ProgressPrinter::new(
        global.json,
        KnownSecrets::process().clone(),
    ))
}

/// The application, its progress printed here.
pub fn open(global: &GlobalArgs) -> Result<App> {
    App::open(&app_options(global), printer(global))
}

/// The application for `env`, refused before the store is created when the spec lacks it.
pub fn for_env(global: &GlobalArgs, env: &EnvName) -> Result<App> {
    App::for_env(&app_options(global), env, printer(global))
}

/// The daemon to send state-changing commands and `hoist commands …` to: `HOIST_SERVER`
/// (`http://HOST:PORT` or `https://…`; `HOIST_CA_FILE` for a private CA) with the token in
/// `HOIST_TOKEN`. `None` (unset or empty): use the store directly.
pub fn remote() -> Result<Option<ApiClient>> {
    let Some(server) = std::env::var("HOIST_SERVER")
        .ok()
        .filter(|server| !server.trim().is_empty())
    else {
        return Ok(None);
    };
    let token = std::env::var("HOIST_TOKEN").unwrap_or_default();
    ApiClient::new(server.trim(), &token).map(Some)
}

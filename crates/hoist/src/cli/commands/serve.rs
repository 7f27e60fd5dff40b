//! `serve`: the controller — the REST API, the scheduler that runs scheduled commands at
//! their time, and the webhook sender, until SIGINT/SIGTERM.

use std::sync::Arc;

use crate::app::App;
use crate::cli::args::GlobalArgs;
use crate::cli::daemon_args::ServeArgs;
use crate::cli::session;
use crate::daemon_log::{self, LogProgress};
use crate::error::Result;
use crate::reconciler::ReconcilerOptions;
use crate::scheduler::SchedulerOptions;
use crate::server::{ServeOptions, serve};

pub fn exec(global: &GlobalArgs, args: &ServeArgs) -> Result<()> {
    daemon_log::init(args.log_format)?;
    let app = Arc::new(App::open(
        &session::app_options(global),
        Arc::new(LogProgress),
    )?);
    serve(
        app,
        ServeOptions {
            listen: args.listen,
            scheduler: SchedulerOptions {
                claim_ttl: args.claim_ttl,
                max_running: args.max_running as usize,
                grace: args.grace,
                listen: None,
            },
            reconciler: ReconcilerOptions {
                every: args.reconcile_every,
                repair: args.repair,
            },
        },
    )
}

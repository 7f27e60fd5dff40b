//! `serve`: the controller — the REST API, the scheduler that runs scheduled commands at
//! their time, and the webhook sender, until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::app::App;
use crate::cli::args::{GlobalArgs, duration};
use crate::cli::session;
use crate::daemon_log::{self, LogFormat, LogProgress};
use crate::error::Result;
use crate::reconciler::ReconcilerOptions;
use crate::scheduler::SchedulerOptions;
use crate::server::{ServeOptions, serve};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Where the API listens (`127.0.0.1:0`: any free port, announced on stderr)
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// How long a claim on a command holds without renewal: another controller takes over
    /// a dead one's commands this long after its last renewal
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "30s")]
    pub claim_ttl: Duration,
    /// At shutdown, how long running commands may take to finish before they are recorded
    /// as interrupted (and resumed by the next controller); at most 55s
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "30s")]
    pub grace: Duration,
    /// Commands run at once, at most
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_running: u32,
    /// How often each running environment's hosts are compared with what is recorded; drift
    /// becomes a `drift.detected` event (`0s`: never)
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "1m")]
    pub reconcile_every: Duration,
    /// Also repair drift as `check --fix` does (a recorded `repair` command), not only record it
    #[arg(long)]
    pub repair: bool,
    /// How the log on stderr is written: `human` lines, or one JSON object per line
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

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

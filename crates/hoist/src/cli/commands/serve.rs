//! `serve`: the controller — the REST API and (with the scheduler) the command runner.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::cli::args::GlobalArgs;
use crate::cli::session::Session;
use crate::error::Result;
use crate::server::{ServeOptions, serve};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Where the API listens (`127.0.0.1:0`: any free port, announced on stderr)
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
}

pub fn exec(global: &GlobalArgs, args: &ServeArgs) -> Result<()> {
    let session = Arc::new(Session::open(global)?);
    serve(
        session,
        ServeOptions {
            listen: args.listen,
        },
    )
}

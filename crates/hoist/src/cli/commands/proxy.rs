//! `proxy --listen ADDRESS --state-dir DIR`: run the built-in reverse proxy until SIGTERM.

use crate::cli::args::ProxyArgs;
use crate::error::Result;
use crate::proxy::{self, ProxyOptions};

pub fn exec(args: &ProxyArgs) -> Result<()> {
    proxy::run(&ProxyOptions {
        listen: args.listen,
        state_dir: args.state_dir.clone(),
        drain_timeout: args.drain_timeout,
    })
}

//! The arguments of the daemon's commands: `serve`, and `tokens` (its API's tokens).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Subcommand;
use hoist_core::EnvName;
use hoist_core::access::{Role, check_token_name};

use crate::cli::value_parsers::{duration, env_name};
use crate::daemon_log::LogFormat;

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

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Make a token for the API; its secret is printed this once
    Create {
        /// 1 to 64 lowercase letters, digits and `-`
        #[arg(value_parser = token_name)]
        name: String,
        /// `viewer` (read), `deployer` (read, deploy, rollback, run) or `admin` (everything)
        #[arg(long, value_parser = role)]
        role: Role,
        /// Limit it to this environment (repeatable; default: all)
        #[arg(long = "env", value_name = "ENV", value_parser = env_name)]
        envs: Vec<EnvName>,
    },
    /// List the tokens (never their secrets)
    List,
    /// Revoke a token: it stops working at once
    Revoke {
        /// The token's id, from `hoist tokens list`
        id: i64,
    },
}

fn token_name(text: &str) -> Result<String, String> {
    check_token_name(text)
        .map(|()| text.to_owned())
        .map_err(|e| format!("{e}\nhint: {}", e.hint()))
}

fn role(text: &str) -> Result<Role, String> {
    text.parse::<Role>()
        .map_err(|e| format!("{e}\nhint: {}", e.hint()))
}

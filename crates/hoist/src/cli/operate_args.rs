//! The arguments of the commands that operate what runs: `logs` and `exec`.

use clap::Args;
use hoist_core::EnvName;

use crate::cli::timeline_args::{Since, since};
use crate::cli::value_parsers::env_name;
use crate::hostside::service_log::reader::check_grep;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Environment name, as in `[env.NAME]`
    #[arg(value_parser = env_name)]
    pub env: EnvName,
    /// Keep printing new lines as they are written, until interrupted
    #[arg(long)]
    pub follow: bool,
    /// Only lines since this time (RFC 3339, e.g. `2026-12-03T09:00:00Z`) or this long ago (`1h`)
    #[arg(long, value_name = "TIME|DURATION", value_parser = since)]
    pub since: Option<Since>,
    /// Show the last N lines [default: 100; all lines with `--since`]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub lines: Option<u32>,
    /// Only lines matching this regular expression
    #[arg(long, value_name = "REGEX", value_parser = grep)]
    pub grep: Option<String>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "The exit status is the highest of any host's (a host where the command \
                        could not run counts as 1), e.g. `hoist exec prod -- sh -c 'exit 3'` \
                        exits 3."
)]
pub struct ExecArgs {
    /// Environment name, as in `[env.NAME]`
    #[arg(value_parser = env_name)]
    pub env: EnvName,
    /// Refused (a one-off command runs now): taken only to say so
    #[arg(long, hide = true, value_name = "TIME")]
    pub at: Option<String>,
    #[arg(long = "in", hide = true, value_name = "DURATION")]
    pub after: Option<String>,
    /// The program and its arguments, after `--` (no shell: use `sh -c '…'` for one)
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

fn grep(text: &str) -> std::result::Result<String, String> {
    match check_grep(text) {
        Ok(()) => Ok(text.to_owned()),
        Err(error) => Err(format!(
            "{error}\nhint: {}",
            error.hints.first().map_or("", String::as_str)
        )),
    }
}

//! `logs ENV [--follow] [--since T|DUR] [--lines N] [--grep RE]`: the service logs of the
//! environment's hosts merged by time, one `host | time text` line each (`--json`: one
//! object per line). Read-only: not a recorded command, no lock.

use std::io::Write;
use std::time::Duration;

use clap::Args;
use hoist_core::EnvName;
use hoist_core::log_line::{LogStream, format_time};

use crate::cli::args::GlobalArgs;
use crate::cli::interrupt::Interrupt;
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::cli::timeline_args::{Since, since};
use crate::error::{Error, Result};
use crate::hostside::service_log::reader::check_grep;
use crate::ops::logs::{FleetLogLine, Follow, LogsOptions, logs};

/// How often `--follow` asks the hosts for new lines.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(300);
/// Lines shown when neither `--lines` nor `--since` says.
const DEFAULT_LINES: usize = 100;

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

pub fn exec(global: &GlobalArgs, args: &LogsArgs, printer: Printer) -> Result<()> {
    let app = session::for_env(global, &args.env)?;
    let ctx = app.context();
    let lines = match (args.lines, args.since) {
        (Some(count), _) => Some(count as usize),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_LINES),
    };
    let options = LogsOptions {
        env: args.env.clone(),
        since: args.since.map(|since| since.time(ctx.clock.now())),
        grep: args.grep.clone(),
        lines,
    };
    let interrupt = match args.follow {
        true => Some(Interrupt::catch()?),
        false => None,
    };
    let stop = || interrupt.as_ref().is_some_and(Interrupt::received);
    let follow = interrupt.as_ref().map(|_| Follow {
        interval: FOLLOW_INTERVAL,
        stop: &stop,
    });
    let report = logs(&ctx, &options, follow, &mut |line| {
        print_line(line, printer)
    })?;
    match report.failed.first() {
        None => Ok(()),
        Some((_, error)) => {
            let names: Vec<&str> = report
                .failed
                .iter()
                .map(|(label, _)| label.as_str())
                .collect();
            Err(
                Error::failed(format!("could not read the logs of {}", names.join(", ")))
                    .cause(error)
                    .hint(format!(
                        "`{}` shows whether its hosts answer",
                        ctx.command_line("status", &args.env)
                    )),
            )
        }
    }
}

fn print_line(line: &FleetLogLine, printer: Printer) -> Result<()> {
    let text = if printer.json {
        serde_json::to_string(line)
            .map_err(|error| Error::internal("cannot encode a log line").cause(error))?
    } else {
        let marker = if line.stream == LogStream::Hoist {
            "==> "
        } else {
            ""
        };
        format!(
            "{} | {} {marker}{}",
            line.label,
            format_time(line.at),
            line.text
        )
    };
    writeln!(std::io::stdout().lock(), "{text}")
        .map_err(|error| Error::internal("cannot write to stdout").cause(error))
}

fn env_name(text: &str) -> std::result::Result<EnvName, String> {
    text.parse::<EnvName>()
        .map_err(|e| format!("{e}\nhint: {}", e.hint()))
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

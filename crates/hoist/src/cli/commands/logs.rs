//! `logs ENV [--follow] [--since T|DUR] [--lines N] [--grep RE]`: the service logs of the
//! environment's hosts merged by time, one `host | time text` line each (`--json`: one
//! object per line). Read-only: not a recorded command, no lock.

use std::io::Write;
use std::time::Duration;

use hoist_core::log_line::{LogStream, format_time};

use crate::cli::args::GlobalArgs;
use crate::cli::interrupt::Interrupt;
use crate::cli::operate_args::LogsArgs;
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::{Error, Result};
use crate::ops::logs::{FleetLogLine, Follow, LogsOptions, logs};

/// How often `--follow` asks the hosts for new lines.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(300);
/// Lines shown when neither `--lines` nor `--since` says.
const DEFAULT_LINES: usize = 100;

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

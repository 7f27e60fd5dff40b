//! `exec ENV [--hosts H] -- COMMAND…`: a one-off command in the live release of every
//! host, its output streamed as it comes with a host prefix (stdout to stdout, stderr to
//! stderr; `--json`: one object per line on stdout, then the outcome). hoist exits with the
//! worst exit status: the highest of any host, a host where it could not run counting as
//! 1. Recorded as a command; its output is not stored.

use std::io::Write;

use crate::cli::args::GlobalArgs;
use crate::cli::operate_args::ExecArgs;
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::{Error, Result};
use crate::ops::exec::{ExecLine, ExecOptions, exec as run_exec};
use crate::ports::service_logs::ExecStream;

pub fn exec(global: &GlobalArgs, args: &ExecArgs, printer: Printer) -> Result<()> {
    if args.at.is_some() || args.after.is_some() {
        return Err(
            Error::failed("`hoist exec` runs its command now and cannot be scheduled")
                .hint("run it when it is needed, or put it in a hook (`[hooks] start`) of a scheduled `deploy`"),
        );
    }
    if session::remote()?.is_some() {
        return Err(Error::failed(
            "`hoist exec` streams from the hosts to this terminal and cannot go through `HOIST_SERVER`",
        )
        .hint("unset `HOIST_SERVER` and run it where the state store is"));
    }
    let progress = session::printer(global);
    let app = crate::app::App::for_env(&session::app_options(global), &args.env, progress.clone())?;
    let options = ExecOptions {
        env: args.env.clone(),
        command: args.command.clone(),
    };
    let outcome = run_exec(&app.context(), &options, &|line| {
        progress.end_open_line();
        print_line(line, printer);
    })?;
    if printer.json {
        let json = serde_json::to_string(&outcome)
            .map_err(|error| Error::internal("cannot encode the outcome").cause(error))?;
        let _ = writeln!(std::io::stdout().lock(), "{json}");
    }
    drop(app);
    // The command's own status, not one of hoist's error codes: the outcome is recorded and
    // every line is out, so nothing is left to do but say it.
    std::process::exit(outcome.exit_code.clamp(0, 255));
}

fn print_line(line: &ExecLine, printer: Printer) {
    // A line that cannot be written (a closed pipe) is dropped: the command runs on, and
    // its status still decides the exit code.
    let _ = if printer.json {
        serde_json::to_string(line)
            .map_err(std::io::Error::other)
            .and_then(|json| writeln!(std::io::stdout().lock(), "{json}"))
    } else {
        let text = format!("{} | {}", line.label, line.text);
        match line.stream {
            ExecStream::Stdout => writeln!(std::io::stdout().lock(), "{text}"),
            ExecStream::Stderr => writeln!(std::io::stderr().lock(), "{text}"),
        }
    };
}

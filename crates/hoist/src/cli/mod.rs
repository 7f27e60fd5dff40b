//! The command line: clap arguments, thin commands, rendering, diagnostics.

pub mod args;
pub mod commands;
pub mod daemon_args;
pub mod host_cli;
pub mod interrupt;
pub mod operate_args;
pub mod printer;
pub mod progress_printer;
pub mod session;
pub mod timeline_args;
pub mod value_parsers;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::args::{Cli, Command};
use crate::cli::printer::{Printer, report_error};
use crate::error::{Error, ErrorKind};

pub fn main() -> ExitCode {
    if let Some(code) = commands::host::long_running() {
        return code;
    }
    let cli = match parse_args::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let printer = Printer {
        json: cli.global.json,
    };
    // Start-up and the store run low already; `CommandRun::begin` raises the priority again
    // for environments whose services run elsewhere. The daemon's own threads keep theirs
    // (its scheduler must wake on time); its commands lower themselves once started.
    if !matches!(
        cli.command,
        Command::Host(_) | Command::Proxy(_) | Command::Serve(_)
    ) {
        crate::cpu_priority::lower_for_controller();
    }
    match run(&cli, printer) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report_error(&error, printer.json);
            ExitCode::from(error.kind.exit_code())
        }
    }
}

/// The command line as `P`, or the exit code after clap printed help, the version or what is
/// wrong with it.
pub(crate) fn parse_args<P: Parser>() -> Result<P, ExitCode> {
    P::try_parse().map_err(|error| {
        let code = match error.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
            _ => ErrorKind::Failed.exit_code(),
        };
        let _ = error.print();
        ExitCode::from(code)
    })
}

fn run(cli: &Cli, printer: Printer) -> Result<(), Error> {
    use commands::*;
    let global = &cli.global;
    match &cli.command {
        Command::Init(args) => init::exec(global, args, printer),
        Command::Spec(command) => spec::exec(global, command, printer),
        Command::Create(args) => lifecycle::create(global, args, printer),
        Command::Provision(args) => lifecycle::provision(global, args, printer),
        Command::Configure(args) => lifecycle::configure(global, args, printer),
        Command::Release(args) => lifecycle::release(global, args, printer),
        Command::Run(args) => lifecycle::run(global, args, printer),
        Command::Deploy(args) => lifecycle::deploy(global, args, printer),
        Command::Rollback(args) => rollback::exec(global, args, printer),
        Command::Releases(command) => releases::exec(global, command, printer),
        Command::Destroy(args) => destroy::exec(global, args, printer),
        Command::Register(args) => register::exec(global, args, printer),
        Command::List => status::list(global, printer),
        Command::Status(args) => status::status(global, args, printer),
        Command::Check(args) => check::exec(global, args, printer),
        Command::Maintenance(args) => maintenance::exec(global, args, printer),
        Command::Restart(args) => lifecycle::restart(global, args, printer),
        Command::Commands(command) => command_list::exec(global, command, printer),
        Command::Events(args) => events::exec(global, args, printer),
        Command::Webhooks(command) => webhooks::exec(global, command, printer),
        Command::Tokens(command) => tokens::exec(global, command, printer),
        Command::Serve(args) => serve::exec(global, args),
        Command::Logs(args) => logs::exec(global, args, printer),
        Command::Exec(args) => exec::exec(global, args, printer),
        Command::Host(args) => host::exec(args),
        Command::Proxy(args) => proxy::exec(args),
    }
}

//! `destroy ENV [--yes] [--volumes]`: asks on a terminal, refuses without `--yes` otherwise.

use std::io::{BufRead, IsTerminal, Write};

use crate::cli::args::{DestroyArgs, GlobalArgs};
use crate::cli::commands::submit::submit;
use crate::cli::printer::Printer;
use crate::error::{Error, Result};
use crate::ops::command_request::CommandRequest;

pub fn exec(global: &GlobalArgs, args: &DestroyArgs, printer: Printer) -> Result<()> {
    if !args.yes {
        confirm(args.env.as_str())?;
    }
    let request = CommandRequest::Destroy {
        env: args.env.clone(),
        volumes: args.volumes,
    };
    submit(global, request, &args.schedule, printer)
}

fn confirm(env: &str) -> Result<()> {
    let refuse = || {
        Error::failed(format!("not destroying `{env}` without confirmation"))
            .hint(format!("pass `--yes` to destroy `{env}` non-interactively"))
    };
    if !std::io::stdin().is_terminal() {
        return Err(refuse());
    }
    let mut stderr = std::io::stderr().lock();
    let _ = write!(
        stderr,
        "this stops `{env}` and deletes its deploy roots. type `{env}` to confirm: "
    );
    let _ = stderr.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::internal("cannot read stdin").cause(e))?;
    if answer.trim() == env {
        Ok(())
    } else {
        Err(refuse())
    }
}

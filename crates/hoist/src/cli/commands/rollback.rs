//! `rollback ENV [--to ID]`.

use crate::cli::args::{GlobalArgs, RollbackArgs};
use crate::cli::commands::{remote, scheduled};
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::Result;
use crate::ops;
use crate::ops::command_request::CommandRequest;

pub fn exec(global: &GlobalArgs, args: &RollbackArgs, printer: Printer) -> Result<()> {
    let request = CommandRequest::Rollback {
        env: args.env.clone(),
        to: args.to.clone(),
    };
    if let Some(api) = session::remote()? {
        return remote::exec(&api, request, &args.schedule, printer);
    }
    if let Some(when) = scheduled::when(&args.schedule)? {
        return scheduled::submit(global, request, when, &args.schedule, printer);
    }
    let app = session::for_env(global, &args.env)?;
    let options = ops::RollbackOptions {
        env: args.env.clone(),
        to: args.to.clone(),
    };
    let outcome = ops::rollback(&app.context(), &options)?;
    printer.outcome(&outcome)
}

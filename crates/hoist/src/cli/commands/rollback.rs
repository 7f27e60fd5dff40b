//! `rollback ENV [--to ID]`.

use crate::cli::args::{GlobalArgs, RollbackArgs};
use crate::cli::commands::scheduled;
use crate::cli::printer::Printer;
use crate::cli::session::Session;
use crate::error::Result;
use crate::ops;
use crate::ops::command_request::CommandRequest;

pub fn exec(global: &GlobalArgs, args: &RollbackArgs, printer: Printer) -> Result<()> {
    if let Some(when) = scheduled::when(&args.schedule)? {
        let request = CommandRequest::Rollback {
            env: args.env.clone(),
            to: args.to.clone(),
        };
        return scheduled::submit(global, request, when, &args.schedule, printer);
    }
    let session = Session::for_env(global, &args.env)?;
    let options = ops::RollbackOptions {
        env: args.env.clone(),
        to: args.to.clone(),
    };
    let outcome = ops::rollback(&session.context(), &options)?;
    printer.outcome(&outcome)
}

//! `rollback ENV [--to ID]`.

use crate::cli::args::{GlobalArgs, RollbackArgs};
use crate::cli::commands::submit::submit;
use crate::cli::printer::Printer;
use crate::error::Result;
use crate::ops::command_request::CommandRequest;

pub fn exec(global: &GlobalArgs, args: &RollbackArgs, printer: Printer) -> Result<()> {
    let request = CommandRequest::Rollback {
        env: args.env.clone(),
        to: args.to.clone(),
    };
    submit(global, request, &args.schedule, printer)
}

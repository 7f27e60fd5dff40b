//! `rollback ENV [--to ID]`.

use crate::cli::args::{GlobalArgs, RollbackArgs};
use crate::cli::printer::Printer;
use crate::cli::session::Session;
use crate::error::Result;
use crate::ops;

pub fn exec(global: &GlobalArgs, args: &RollbackArgs, printer: Printer) -> Result<()> {
    let session = Session::for_env(global, &args.env)?;
    let options = ops::RollbackOptions {
        env: args.env.clone(),
        to: args.to.clone(),
    };
    let outcome = ops::rollback(&session.context(), &options)?;
    printer.outcome(&outcome)
}

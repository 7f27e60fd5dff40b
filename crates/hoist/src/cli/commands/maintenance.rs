//! `maintenance on|off ENV`.

use crate::cli::args::{GlobalArgs, MaintenanceArgs, Switch};
use crate::cli::printer::Printer;
use crate::cli::session::Session;
use crate::error::Result;
use crate::ops;

pub fn exec(global: &GlobalArgs, args: &MaintenanceArgs, printer: Printer) -> Result<()> {
    let session = Session::for_env(global, &args.env)?;
    let options = ops::MaintenanceOptions {
        env: args.env.clone(),
        on: args.switch == Switch::On,
    };
    printer.outcome(&ops::maintenance(&session.context(), &options)?)
}

//! `maintenance on|off ENV`.

use crate::cli::args::{GlobalArgs, MaintenanceArgs, Switch};
use crate::cli::commands::scheduled;
use crate::cli::printer::Printer;
use crate::cli::session::Session;
use crate::error::Result;
use crate::ops;
use crate::ops::command_request::CommandRequest;

pub fn exec(global: &GlobalArgs, args: &MaintenanceArgs, printer: Printer) -> Result<()> {
    if let Some(when) = scheduled::when(&args.schedule)? {
        let request = CommandRequest::Maintenance {
            env: args.env.clone(),
            on: args.switch == Switch::On,
        };
        return scheduled::submit(global, request, when, &args.schedule, printer);
    }
    let session = Session::for_env(global, &args.env)?;
    let options = ops::MaintenanceOptions {
        env: args.env.clone(),
        on: args.switch == Switch::On,
    };
    printer.outcome(&ops::maintenance(&session.context(), &options)?)
}

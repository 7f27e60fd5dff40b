//! `maintenance on|off ENV`.

use crate::cli::args::{GlobalArgs, MaintenanceArgs, Switch};
use crate::cli::commands::submit::submit;
use crate::cli::printer::Printer;
use crate::error::Result;
use crate::ops::command_request::CommandRequest;

pub fn exec(global: &GlobalArgs, args: &MaintenanceArgs, printer: Printer) -> Result<()> {
    let request = CommandRequest::Maintenance {
        env: args.env.clone(),
        on: args.switch == Switch::On,
    };
    submit(global, request, &args.schedule, printer)
}

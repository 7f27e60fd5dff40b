//! `register ENV --host HOST… [--jump J] [--remove]`.

use crate::cli::args::{GlobalArgs, RegisterArgs};
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::Result;
use crate::ops;

pub fn exec(global: &GlobalArgs, args: &RegisterArgs, printer: Printer) -> Result<()> {
    let app = session::for_env(global, &args.env)?;
    let options = ops::RegisterOptions {
        env: args.env.clone(),
        hosts: args.hosts.clone(),
        jump: args.jump.clone(),
        remove: args.remove,
    };
    printer.outcome(&ops::register(&app.context(), &options)?)
}

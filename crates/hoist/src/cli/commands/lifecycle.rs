//! `create`, `provision`, `configure`, `release`, `run`, `restart` and `deploy`: each names
//! its request and submits it (`submit`: through the daemon, scheduled, or here).

use crate::cli::args::{ActArgs, DeployArgs, GlobalArgs, ProvisionArgs};
use crate::cli::commands::submit::submit;
use crate::cli::printer::Printer;
use crate::error::Result;
use crate::ops::command_request::CommandRequest;

pub fn create(global: &GlobalArgs, args: &ActArgs, printer: Printer) -> Result<()> {
    let env = args.env.clone();
    submit(
        global,
        CommandRequest::Create { env },
        &args.schedule,
        printer,
    )
}

pub fn provision(global: &GlobalArgs, args: &ProvisionArgs, printer: Printer) -> Result<()> {
    let request = CommandRequest::Provision {
        env: args.env.clone(),
        adopt: args.adopt.adopt,
    };
    submit(global, request, &args.schedule, printer)
}

pub fn configure(global: &GlobalArgs, args: &ActArgs, printer: Printer) -> Result<()> {
    let env = args.env.clone();
    submit(
        global,
        CommandRequest::Configure { env },
        &args.schedule,
        printer,
    )
}

pub fn release(global: &GlobalArgs, args: &ActArgs, printer: Printer) -> Result<()> {
    let env = args.env.clone();
    submit(
        global,
        CommandRequest::Release { env },
        &args.schedule,
        printer,
    )
}

pub fn run(global: &GlobalArgs, args: &ActArgs, printer: Printer) -> Result<()> {
    let env = args.env.clone();
    submit(global, CommandRequest::Run { env }, &args.schedule, printer)
}

pub fn restart(global: &GlobalArgs, args: &ActArgs, printer: Printer) -> Result<()> {
    let env = args.env.clone();
    submit(
        global,
        CommandRequest::Restart { env },
        &args.schedule,
        printer,
    )
}

pub fn deploy(global: &GlobalArgs, args: &DeployArgs, printer: Printer) -> Result<()> {
    let request = CommandRequest::Deploy {
        env: args.env.clone(),
        ttl_seconds: args.ttl.map(|ttl| ttl.as_secs()),
        adopt: args.adopt.adopt,
    };
    submit(global, request, &args.schedule, printer)
}

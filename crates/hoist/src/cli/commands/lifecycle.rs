//! `create`, `provision`, `configure`, `release`, `run` and `deploy`: each builds its
//! options and calls its op.

use crate::cli::args::{EnvArgs, GlobalArgs};
use crate::cli::printer::Printer;
use crate::cli::session::Session;
use crate::error::Result;
use crate::ops;

pub fn create(global: &GlobalArgs, args: &EnvArgs, printer: Printer) -> Result<()> {
    let session = Session::for_env(global, &args.env)?;
    let outcome = ops::create(
        &session.context(),
        &ops::CreateOptions {
            env: args.env.clone(),
        },
    )?;
    printer.outcome(&outcome)
}

pub fn provision(global: &GlobalArgs, args: &EnvArgs, printer: Printer) -> Result<()> {
    let session = Session::for_env(global, &args.env)?;
    let outcome = ops::provision(
        &session.context(),
        &ops::ProvisionOptions {
            env: args.env.clone(),
        },
    )?;
    printer.outcome(&outcome)
}

pub fn configure(global: &GlobalArgs, args: &EnvArgs, printer: Printer) -> Result<()> {
    let session = Session::for_env(global, &args.env)?;
    let outcome = ops::configure(
        &session.context(),
        &ops::ConfigureOptions {
            env: args.env.clone(),
        },
    )?;
    printer.outcome(&outcome)
}

pub fn release(global: &GlobalArgs, args: &EnvArgs, printer: Printer) -> Result<()> {
    let session = Session::for_env(global, &args.env)?;
    let outcome = ops::release(
        &session.context(),
        &ops::ReleaseOptions {
            env: args.env.clone(),
        },
    )?;
    printer.outcome(&outcome)
}

pub fn run(global: &GlobalArgs, args: &EnvArgs, printer: Printer) -> Result<()> {
    let session = Session::for_env(global, &args.env)?;
    let outcome = ops::run(
        &session.context(),
        &ops::RunOptions {
            env: args.env.clone(),
        },
    )?;
    printer.outcome(&outcome)
}

pub fn deploy(global: &GlobalArgs, args: &EnvArgs, printer: Printer) -> Result<()> {
    let session = Session::for_env(global, &args.env)?;
    let outcome = ops::deploy(
        &session.context(),
        &ops::DeployOptions {
            env: args.env.clone(),
            ttl: None,
        },
    )?;
    printer.outcome(&outcome)
}

//! `create`, `provision`, `configure`, `release`, `run` and `deploy`: each builds its
//! options and calls its op — or, with `--at`/`--in`, schedules the same request;
//! with `HOIST_SERVER` set, sends it to the daemon.

use crate::cli::args::{ActArgs, DeployArgs, GlobalArgs, ProvisionArgs};
use crate::cli::commands::{remote, scheduled};
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::Result;
use crate::ops;
use crate::ops::command_request::CommandRequest;

pub fn create(global: &GlobalArgs, args: &ActArgs, printer: Printer) -> Result<()> {
    let request = CommandRequest::Create {
        env: args.env.clone(),
    };
    if let Some(api) = session::remote()? {
        return remote::exec(&api, request, &args.schedule, printer);
    }
    if let Some(when) = scheduled::when(&args.schedule)? {
        return scheduled::submit(global, request, when, &args.schedule, printer);
    }
    let app = session::for_env(global, &args.env)?;
    let outcome = ops::create(
        &app.context(),
        &ops::CreateOptions {
            env: args.env.clone(),
        },
    )?;
    printer.outcome(&outcome)
}

pub fn provision(global: &GlobalArgs, args: &ProvisionArgs, printer: Printer) -> Result<()> {
    let request = CommandRequest::Provision {
        env: args.env.clone(),
        adopt: args.adopt.adopt,
    };
    if let Some(api) = session::remote()? {
        return remote::exec(&api, request, &args.schedule, printer);
    }
    if let Some(when) = scheduled::when(&args.schedule)? {
        return scheduled::submit(global, request, when, &args.schedule, printer);
    }
    let app = session::for_env(global, &args.env)?;
    let outcome = ops::provision(
        &app.context(),
        &ops::ProvisionOptions {
            env: args.env.clone(),
            adopt: args.adopt.adopt,
        },
    )?;
    printer.outcome(&outcome)
}

pub fn configure(global: &GlobalArgs, args: &ActArgs, printer: Printer) -> Result<()> {
    let request = CommandRequest::Configure {
        env: args.env.clone(),
    };
    if let Some(api) = session::remote()? {
        return remote::exec(&api, request, &args.schedule, printer);
    }
    if let Some(when) = scheduled::when(&args.schedule)? {
        return scheduled::submit(global, request, when, &args.schedule, printer);
    }
    let app = session::for_env(global, &args.env)?;
    let outcome = ops::configure(
        &app.context(),
        &ops::ConfigureOptions {
            env: args.env.clone(),
        },
    )?;
    printer.outcome(&outcome)
}

pub fn release(global: &GlobalArgs, args: &ActArgs, printer: Printer) -> Result<()> {
    let request = CommandRequest::Release {
        env: args.env.clone(),
    };
    if let Some(api) = session::remote()? {
        return remote::exec(&api, request, &args.schedule, printer);
    }
    if let Some(when) = scheduled::when(&args.schedule)? {
        return scheduled::submit(global, request, when, &args.schedule, printer);
    }
    let app = session::for_env(global, &args.env)?;
    let outcome = ops::release(
        &app.context(),
        &ops::ReleaseOptions {
            env: args.env.clone(),
        },
    )?;
    printer.outcome(&outcome)
}

pub fn run(global: &GlobalArgs, args: &ActArgs, printer: Printer) -> Result<()> {
    let request = CommandRequest::Run {
        env: args.env.clone(),
    };
    if let Some(api) = session::remote()? {
        return remote::exec(&api, request, &args.schedule, printer);
    }
    if let Some(when) = scheduled::when(&args.schedule)? {
        return scheduled::submit(global, request, when, &args.schedule, printer);
    }
    let app = session::for_env(global, &args.env)?;
    let outcome = ops::run(
        &app.context(),
        &ops::RunOptions {
            env: args.env.clone(),
        },
    )?;
    printer.outcome(&outcome)
}

pub fn restart(global: &GlobalArgs, args: &ActArgs, printer: Printer) -> Result<()> {
    let request = CommandRequest::Restart {
        env: args.env.clone(),
    };
    if let Some(api) = session::remote()? {
        return remote::exec(&api, request, &args.schedule, printer);
    }
    if let Some(when) = scheduled::when(&args.schedule)? {
        return scheduled::submit(global, request, when, &args.schedule, printer);
    }
    let app = session::for_env(global, &args.env)?;
    let outcome = ops::restart(
        &app.context(),
        &ops::RestartOptions {
            env: args.env.clone(),
        },
    )?;
    printer.outcome(&outcome)
}

pub fn deploy(global: &GlobalArgs, args: &DeployArgs, printer: Printer) -> Result<()> {
    let request = CommandRequest::Deploy {
        env: args.env.clone(),
        ttl_seconds: args.ttl.map(|ttl| ttl.as_secs()),
        adopt: args.adopt.adopt,
    };
    if let Some(api) = session::remote()? {
        return remote::exec(&api, request, &args.schedule, printer);
    }
    if let Some(when) = scheduled::when(&args.schedule)? {
        return scheduled::submit(global, request, when, &args.schedule, printer);
    }
    let app = session::for_env(global, &args.env)?;
    let outcome = ops::deploy(
        &app.context(),
        &ops::DeployOptions {
            env: args.env.clone(),
            ttl: args.ttl,
            adopt: args.adopt.adopt,
        },
    )?;
    printer.outcome(&outcome)
}

//! `check ENV`: exit 1 when the hosts drifted from the record.

use crate::cli::args::{EnvArgs, GlobalArgs};
use crate::cli::printer::Printer;
use crate::cli::session::Session;
use crate::error::{Error, Result};
use crate::ops::{self, CheckReport};

pub fn exec(global: &GlobalArgs, args: &EnvArgs, printer: Printer) -> Result<()> {
    let session = Session::for_env(global, &args.env)?;
    let report = ops::check(
        &session.context(),
        &ops::CheckOptions {
            env: args.env.clone(),
        },
    )?;
    printer.print(&report, render)?;
    if report.ok {
        Ok(())
    } else {
        let problems: usize = report.hosts.iter().map(|h| h.problems.len()).sum();
        Err(
            Error::failed(format!("`{}` drifted: {problems} problem(s)", args.env))
                .hint(format!("`hoist deploy {}` converges it", args.env)),
        )
    }
}

fn render(report: &CheckReport) -> String {
    let mut text = String::new();
    for host in &report.hosts {
        let live = host
            .live
            .as_ref()
            .map_or("nothing".to_owned(), ToString::to_string);
        let instance = match (&host.instance_release, host.instance_alive) {
            (Some(release), true) => format!("running {release}"),
            (Some(release), false) => format!("dead ({release})"),
            (None, _) => "none".to_owned(),
        };
        let health = match host.healthy {
            Some(true) => "healthy",
            Some(false) => "unhealthy",
            None => "-",
        };
        let mark = if host.problems.is_empty() {
            "ok"
        } else {
            "DRIFT"
        };
        text.push_str(&format!(
            "{mark:<6} {}  live: {live}  instance: {instance}  health: {health}\n",
            host.address
        ));
        for problem in &host.problems {
            text.push_str(&format!("       - {problem}\n"));
        }
    }
    text
}

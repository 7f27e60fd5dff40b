//! `check ENV`: exit 1 when the hosts drifted from the record.

use crate::cli::args::{CheckArgs, GlobalArgs};
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::error::{Error, Result};
use crate::ops::{self, CheckReport};

pub fn exec(global: &GlobalArgs, args: &CheckArgs, printer: Printer) -> Result<()> {
    let app = session::for_env(global, &args.env)?;
    let ctx = app.context();
    let report = ops::check(
        &ctx,
        &ops::CheckOptions {
            env: args.env.clone(),
            fix: args.fix,
        },
    )?;
    printer.print(&report, render)?;
    if report.ok {
        Ok(())
    } else {
        let problems: usize = report.hosts.iter().map(|h| h.problems.len()).sum();
        Err(
            Error::failed(format!("`{}` drifted: {problems} problem(s)", args.env))
                .hint(format!(
                    "`{}` converges it",
                    ctx.command_line("deploy", &args.env)
                ))
                .answered(),
        )
    }
}

fn render(report: &CheckReport) -> String {
    let mut text = String::new();
    for line in &report.fixed {
        text.push_str(&format!("fixed  {line}\n"));
    }
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
        if let Some(route) = host.route {
            let proxy = match &host.proxy {
                Some(proxy) if proxy.alive => format!("proxy pid {}", proxy.pid),
                Some(proxy) => format!("proxy pid {} DEAD", proxy.pid),
                None => "no proxy process".to_owned(),
            };
            let maintenance = if host.maintenance {
                "  MAINTENANCE"
            } else {
                ""
            };
            text.push_str(&format!("       route -> {route} ({proxy}){maintenance}\n"));
        }
        for slot in &host.slots {
            let alive = if slot.alive { "running" } else { "dead" };
            let routed = if slot.routed { "  <- routed" } else { "" };
            text.push_str(&format!(
                "       {:<6} {} pid {} port {} {alive}{routed}\n",
                slot.slot, slot.release, slot.pid, slot.port
            ));
        }
        for problem in &host.problems {
            text.push_str(&format!("       - {problem}\n"));
        }
    }
    text
}

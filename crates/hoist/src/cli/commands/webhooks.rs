//! `webhooks add|list|remove|deliveries|deliver`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::cli::args::GlobalArgs;
use crate::cli::interrupt::Interrupt;
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::cli::timeline_args::WebhooksCommand;
use crate::error::Result;
use crate::ops::webhooks::{
    AddWebhookOptions, AddedWebhook, WebhookRow, add_webhook, deliver, deliveries, list_webhooks,
    remove_webhook,
};
use crate::ports::webhook_store::{Delivery, HookSecret};
use crate::webhooks::webhook_sender::PassReport;

pub fn exec(global: &GlobalArgs, command: &WebhooksCommand, printer: Printer) -> Result<()> {
    let app = match command {
        WebhooksCommand::Add { env: Some(env), .. } => session::for_env(global, env)?,
        _ => session::open(global)?,
    };
    let ctx = app.context();
    match command {
        WebhooksCommand::Add {
            url,
            env,
            kinds,
            secret,
        } => {
            let options = AddWebhookOptions {
                url: url.clone(),
                env: env.clone(),
                kinds: kinds.clone(),
                secret: secret.clone().map(HookSecret::new),
            };
            printer.print(&add_webhook(&ctx, &options)?, render_added)
        }
        WebhooksCommand::List => printer.print(&list_webhooks(&ctx)?, |rows| render_hooks(rows)),
        WebhooksCommand::Remove { id } => printer.print(&remove_webhook(&ctx, *id)?, |row| {
            format!("webhook {} removed ({})", row.id, row.url)
        }),
        WebhooksCommand::Deliveries { hook_id, limit } => printer
            .print(&deliveries(&ctx, *hook_id, *limit)?, |rows| {
                render_deliveries(rows)
            }),
        WebhooksCommand::Deliver { once: true } => {
            let report = deliver(&ctx, true, &AtomicBool::new(false))?;
            printer.print(&report, render_report)
        }
        WebhooksCommand::Deliver { once: false } => {
            let interrupt = Interrupt::catch()?;
            let (stop, done) = (AtomicBool::new(false), AtomicBool::new(false));
            let outcome = std::thread::scope(|scope| {
                scope.spawn(|| {
                    while !done.load(Ordering::Relaxed) {
                        if interrupt.received() {
                            stop.store(true, Ordering::Relaxed);
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                });
                let outcome = deliver(&ctx, false, &stop);
                done.store(true, Ordering::Relaxed);
                outcome
            });
            outcome.map(|_| ())
        }
    }
}

fn render_added(added: &AddedWebhook) -> String {
    let hook = &added.webhook;
    let mut text = format!("webhook {} added: {} ({})", hook.id, hook.url, scope(hook));
    match &added.generated_secret {
        Some(secret) => text.push_str(&format!(
            "\nsecret: {secret}\n\
             (shown this once: receivers check `X-Hoist-Signature-256: sha256=<HMAC-SHA256 of the body>` with it)"
        )),
        None => text.push_str(&format!("\nsecret: {}", hook.secret)),
    }
    text
}

fn scope(hook: &WebhookRow) -> String {
    let env = hook
        .env
        .as_ref()
        .map_or("every environment".to_owned(), |env| format!("env `{env}`"));
    if hook.kinds.is_empty() {
        format!("{env}, every event")
    } else {
        format!("{env}, events {}", hook.kinds.join(", "))
    }
}

fn render_hooks(rows: &[WebhookRow]) -> String {
    if rows.is_empty() {
        return "no webhooks".to_owned();
    }
    let mut text = format!(
        "{:<4} {:<40} {:<20} {}\n",
        "ID", "URL", "SECRET", "RECEIVES"
    );
    for row in rows {
        text.push_str(&format!(
            "{:<4} {:<40} {:<20} {}\n",
            row.id,
            row.url,
            row.secret,
            scope(row)
        ));
    }
    text
}

fn render_deliveries(rows: &[Delivery]) -> String {
    if rows.is_empty() {
        return "no deliveries".to_owned();
    }
    let mut text = format!(
        "{:<6} {:<5} {:<6} {:<10} {:<8} {}\n",
        "ID", "HOOK", "EVENT", "STATUS", "ATTEMPTS", "LAST"
    );
    for row in rows {
        let last = match (&row.last_status, &row.last_error) {
            (_, Some(error)) => error.clone(),
            (Some(status), None) => status.to_string(),
            (None, None) => "-".to_owned(),
        };
        text.push_str(&format!(
            "{:<6} {:<5} {:<6} {:<10} {:<8} {last}\n",
            row.id, row.hook_id, row.event_id, row.status, row.attempts
        ));
    }
    text
}

fn render_report(report: &PassReport) -> String {
    format!(
        "{} queued, {} delivered, {} to retry, {} given up",
        report.queued, report.delivered, report.retrying, report.failed
    )
}

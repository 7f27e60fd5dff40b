//! `events [ENV] [--command ID] [--since T] [--limit N] [--follow]`: the timeline, one
//! line per event (one JSON object per line with `--json`).

use std::io::Write;
use std::time::Duration;

use crate::cli::args::GlobalArgs;
use crate::cli::interrupt::Interrupt;
use crate::cli::printer::Printer;
use crate::cli::session;
use crate::cli::timeline_args::EventsArgs;
use crate::error::{Error, Result};
use crate::ops::events::{EventsOptions, events, follow_events, newest_event_id};
use crate::ports::store::Event;

/// How often `--follow` looks for new events.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(200);

pub fn exec(global: &GlobalArgs, args: &EventsArgs, printer: Printer) -> Result<()> {
    let app = match &args.env {
        Some(env) => session::for_env(global, env)?,
        None => session::open(global)?,
    };
    let ctx = app.context();
    let options = EventsOptions {
        env: args.env.clone(),
        command_id: args.command_id,
        since: args.since.map(|since| since.time(ctx.clock.now())),
        limit: args.limit,
    };
    // Taken before the listing, so an event recorded meanwhile is not missed.
    let follow = if args.follow {
        Some((Interrupt::catch()?, newest_event_id(&ctx)?))
    } else {
        None
    };
    let shown = events(&ctx, &options)?;
    for event in &shown {
        print_event(event, printer)?;
    }
    if let Some((interrupt, newest)) = follow {
        let after_id = shown.last().map_or(newest, |event| event.id.max(newest));
        follow_events(
            &ctx,
            &options,
            after_id,
            FOLLOW_INTERVAL,
            &|| interrupt.received(),
            &mut |event| print_event(event, printer),
        )?;
    }
    Ok(())
}

fn print_event(event: &Event, printer: Printer) -> Result<()> {
    let line = if printer.json {
        serde_json::to_string(event)
            .map_err(|error| Error::internal("cannot encode an event").cause(error))?
    } else {
        render(event)
    };
    let line = crate::known_secrets::KnownSecrets::process().mask(&line);
    writeln!(std::io::stdout().lock(), "{line}")
        .map_err(|error| Error::internal("cannot write to stdout").cause(error))
}

fn render(event: &Event) -> String {
    let at = event.event.at.to_string();
    let at = at
        .get(..19)
        .map_or(at.clone(), |seconds| format!("{seconds}Z"));
    let env = event.event.env.as_ref().map_or("-", |env| env.as_str());
    let command = event
        .event
        .command_id
        .map_or("-".to_owned(), |id| format!("#{id}"));
    format!(
        "{at}  {env:<12} {command:>6}  {:<20} {:<20} {}",
        event.event.kind, event.event.actor, event.event.message
    )
}

//! The timeline: events filtered by environment, command and time, the newest few, and
//! following it as events are appended.

use std::time::Duration;

use hoist_core::EnvName;
use jiff::Timestamp;

use crate::error::Result;
use crate::ops::context::Context;
use crate::ports::store::{Event, EventFilter};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsOptions {
    pub env: Option<EnvName>,
    pub command_id: Option<i64>,
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    /// The newest this many (0: every matching event).
    pub limit: usize,
}

impl EventsOptions {
    fn filter(&self, after_id: Option<i64>, limit: usize, newest: bool) -> EventFilter {
        EventFilter {
            env: self.env.clone(),
            command_id: self.command_id,
            after_id,
            before_id: None,
            limit,
            since: self.since,
            newest,
        }
    }
}

/// The newest `limit` matching events, oldest first.
pub fn events(ctx: &Context<'_>, options: &EventsOptions) -> Result<Vec<Event>> {
    ctx.store.events(&options.filter(None, options.limit, true))
}

/// The id of the newest event of any kind (0: none yet): where following starts when
/// nothing was listed.
pub fn newest_event_id(ctx: &Context<'_>) -> Result<i64> {
    let newest = ctx.store.events(&EventFilter {
        limit: 1,
        newest: true,
        ..EventFilter::default()
    })?;
    Ok(newest.last().map_or(0, |event| event.id))
}

/// Hands `on_event` every matching event appended after `after_id`, in order, polling the
/// store every `interval`, until `stop` answers true (checked between polls).
pub fn follow_events(
    ctx: &Context<'_>,
    options: &EventsOptions,
    after_id: i64,
    interval: Duration,
    stop: &dyn Fn() -> bool,
    on_event: &mut dyn FnMut(&Event) -> Result<()>,
) -> Result<()> {
    let mut after_id = after_id;
    loop {
        for event in ctx
            .store
            .events(&options.filter(Some(after_id), 500, false))?
        {
            after_id = event.id;
            on_event(&event)?;
        }
        if stop() {
            return Ok(());
        }
        std::thread::sleep(interval);
        if stop() {
            return Ok(());
        }
    }
}

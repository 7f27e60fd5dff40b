//! The environments page's rows, from the store alone (no host is asked, so the page stays
//! fast however many hosts there are): state, live release per host and instance, the last
//! command, the next scheduled one, maintenance, drift and instance trouble from the newest
//! events. The environment page asks the hosts.

use hoist_core::{CommandStatus, EnvName};
use jiff::Timestamp;

use crate::error::Result;
use crate::ops::{self, Context};
use crate::ports::store::{CommandFilter, CommandRecord, Event, EventFilter};
use crate::server::caller::Caller;
use crate::server::dashboard::moment::Moment;

/// How many of an environment's newest events are read for its flags.
const RECENT_EVENTS: usize = 50;

#[derive(Debug, Clone)]
pub struct EnvironmentRow {
    pub name: EnvName,
    /// `running`, `created`, …, or `not created`.
    pub state: String,
    pub in_spec: bool,
    pub live_release: Option<String>,
    pub pending_release: Option<String>,
    pub failure: Option<String>,
    pub hosts: Vec<HostLine>,
    pub last_command: Option<CommandLine>,
    pub next_scheduled: Option<CommandLine>,
    pub maintenance: bool,
    /// The last reconcile's findings, while not cleared.
    pub drift: Option<String>,
    /// Crash loops and restarts since the last deploy, newest first.
    pub trouble: Vec<String>,
}

impl EnvironmentRow {
    /// The state as a CSS class name.
    pub fn state_class(&self) -> String {
        self.state.replace(' ', "-")
    }
}

#[derive(Debug, Clone)]
pub struct HostLine {
    pub host: String,
    pub release: String,
    pub slot: String,
    pub pid: u32,
    pub port: u16,
}

#[derive(Debug, Clone)]
pub struct CommandLine {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub when: Moment,
}

impl CommandLine {
    pub fn of(command: &CommandRecord, now: Timestamp) -> Self {
        let at = match command.status {
            CommandStatus::Scheduled => command.execute_at,
            CommandStatus::Running => command.started_at,
            _ => command.finished_at.or(command.started_at),
        }
        .unwrap_or(command.created_at);
        Self {
            id: command.id,
            kind: command.kind.to_string(),
            status: command.status.to_string(),
            when: Moment::new(at, now),
        }
    }
}

/// Every environment the caller may see, by name.
pub fn environment_rows(ctx: &Context<'_>, caller: &Caller) -> Result<Vec<EnvironmentRow>> {
    let now = ctx.clock.now();
    let mut rows = Vec::new();
    for summary in ops::list(ctx)? {
        if !caller.sees(Some(&summary.name)) {
            continue;
        }
        let env = summary.name.clone();
        let hosts = ctx
            .store
            .live_instances(&env)?
            .into_iter()
            .map(|instance| HostLine {
                host: instance.host,
                release: instance.release.to_string(),
                slot: instance.slot.to_string(),
                pid: instance.pid,
                port: instance.port,
            })
            .collect();
        let last = ops::commands::list(
            ctx,
            &CommandFilter {
                env: Some(env.clone()),
                status: None,
                limit: 1,
            },
        )?;
        let waiting = ctx.store.commands(&CommandFilter {
            env: Some(env.clone()),
            status: Some(CommandStatus::Scheduled),
            limit: 0,
        })?;
        let next = waiting
            .iter()
            .filter(|command| command.status == CommandStatus::Scheduled)
            .min_by_key(|command| command.execute_at);
        let flags = Flags::recent(ctx, &env)?;
        rows.push(EnvironmentRow {
            state: summary
                .state
                .map_or_else(|| "not created".to_owned(), |state| state.to_string()),
            in_spec: summary.in_spec,
            live_release: summary.live_release.map(|id| id.to_string()),
            pending_release: summary.pending_release.map(|id| id.to_string()),
            failure: summary
                .failure
                .map(|failure| format!("{} failed: {}", failure.step, failure.error)),
            hosts,
            last_command: last.first().map(|command| CommandLine::of(command, now)),
            next_scheduled: next.map(|command| CommandLine::of(command, now)),
            maintenance: flags.maintenance,
            drift: flags.drift,
            trouble: flags.trouble,
            name: env,
        });
    }
    Ok(rows)
}

/// What the newest events say of an environment now.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub maintenance: bool,
    pub drift: Option<String>,
    pub trouble: Vec<String>,
}

impl Flags {
    /// What the environment's newest events say.
    pub fn recent(ctx: &Context<'_>, env: &EnvName) -> Result<Self> {
        let events = ctx.store.events(&EventFilter {
            env: Some(env.clone()),
            limit: RECENT_EVENTS,
            newest: true,
            ..EventFilter::default()
        })?;
        Ok(Self::from_events(&events))
    }

    /// `events` oldest first, as the store returns them.
    pub fn from_events(events: &[Event]) -> Self {
        let mut flags = Self::default();
        for event in events {
            let message = &event.event.message;
            match event.event.kind.as_str() {
                "maintenance.on" => flags.maintenance = true,
                "maintenance.off" => flags.maintenance = false,
                "drift.detected" => flags.drift = Some(message.clone()),
                "drift.cleared" => flags.drift = None,
                "release.live" => flags.trouble.clear(),
                "instance.crash_loop" | "instance.exited" | "instance.restarted" => {
                    flags.trouble.push(message.clone());
                }
                _ => {}
            }
        }
        flags.trouble.reverse();
        flags.trouble.truncate(3);
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::store::NewEvent;

    fn event(id: i64, kind: &str, message: &str) -> Event {
        Event {
            id,
            event: NewEvent {
                at: Timestamp::UNIX_EPOCH,
                env: None,
                command_id: None,
                kind: kind.to_owned(),
                message: message.to_owned(),
                actor: "test".to_owned(),
            },
        }
    }

    #[test]
    fn the_newest_event_of_each_kind_decides() {
        let flags = Flags::from_events(&[
            event(1, "maintenance.on", "on"),
            event(2, "drift.detected", "instance down"),
            event(3, "instance.restarted", "old restart"),
            event(4, "release.live", "deployed"),
            event(5, "instance.crash_loop", "crash-looping"),
            event(6, "maintenance.off", "off"),
        ]);
        assert_eq!(
            flags,
            Flags {
                maintenance: false,
                drift: Some("instance down".into()),
                trouble: vec!["crash-looping".into()],
            }
        );
        let cleared = Flags::from_events(&[
            event(1, "drift.detected", "x"),
            event(2, "drift.cleared", "ok"),
        ]);
        assert_eq!(cleared.drift, None);
    }
}

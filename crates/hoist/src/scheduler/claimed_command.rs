//! Runs one command a controller claimed, when its time has come: too late → `expired`;
//! arguments it cannot read or a permission that no longer holds → `failed` with the reason
//! and nothing else done; otherwise the very op the CLI runs, on the spec as it is now, as
//! the user or token that asked for it.

use std::time::Duration;

use hoist_core::CommandStatus;
use hoist_core::schedule::{Due, Schedule, due};
use jiff::Timestamp;

use crate::app::App;
use crate::error::Result;
use crate::ops::command_request::CommandRequest;
use crate::ops::command_run::first_line;
use crate::ops::context::ClaimedCommand;
use crate::ports::Clock;
use crate::ports::host::LockHolder;
use crate::ports::store::{CommandRecord, NewEvent};
use crate::scheduler::spec_cache::SpecCache;

/// How a claimed command ended, for the daemon's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimedEnd {
    Ran {
        ok: bool,
        message: String,
    },
    Expired,
    Refused(String),
    /// Cancelled or rescheduled (or taken by another controller) before it started.
    Lost,
}

#[derive(Debug)]
pub struct ClaimedCommandRun<'a> {
    pub app: &'a App,
    pub specs: &'a SpecCache,
    pub controller: &'a str,
    pub command: CommandRecord,
}

impl ClaimedCommandRun<'_> {
    pub fn run(&self) -> Result<ClaimedEnd> {
        let store = self.app.store.as_ref();
        let command = &self.command;
        if command.status == CommandStatus::Running {
            // Its controller stopped renewing the claim: it died mid-command.
            let reason = "interrupted: its controller stopped renewing its claim";
            store.set_command_status(
                command.id,
                CommandStatus::Interrupted,
                None,
                Some(reason),
                self.now(),
            )?;
            self.event(
                "command.interrupted",
                format!("command {} {reason}; resuming it", command.id),
            )?;
        }
        let resuming = command.status != CommandStatus::Scheduled;
        if let (false, Some(execute_at), Some(expires_at)) =
            (resuming, command.execute_at, command.expires_at)
        {
            let schedule = Schedule {
                execute_at,
                expires_at,
            };
            if due(&schedule, self.now()) == Due::Expire {
                return self.expire(expires_at);
            }
        }
        let request: CommandRequest = match serde_json::from_value(command.args.clone()) {
            Ok(request) => request,
            Err(error) => {
                return self.refuse(format!(
                    "its arguments are not a command hoist knows: {error}"
                ));
            }
        };
        if let Err(denied) = crate::ops::tokens::still_permitted(store, command)? {
            return self.refuse(format!("permission denied at run time: {}", denied.reason));
        }
        let reloaded = match self.specs.changed() {
            Ok(reloaded) => reloaded,
            Err(error) => return self.refuse(first_line(&error.to_string())),
        };
        let spec = reloaded.as_deref().unwrap_or(&self.app.spec);
        let mut ctx = self.app.background_context(spec);
        ctx.actor.name = command.requested_by.clone();
        ctx.claimed = Some(ClaimedCommand {
            id: command.id,
            controller: self.controller.to_owned(),
            start_at: command.execute_at.filter(|_| !resuming),
        });
        if let Some(expires_at) = command.expires_at.filter(|_| !resuming) {
            // A busy environment is waited for until the command would expire.
            ctx.lock_wait =
                Duration::try_from(expires_at.duration_since(self.now())).unwrap_or(Duration::ZERO);
        }
        match request.execute(&ctx) {
            Ok(outcome) => Ok(ClaimedEnd::Ran {
                ok: true,
                message: outcome.message,
            }),
            Err(error) => match store.command(command.id)? {
                Some(now) if now.status == CommandStatus::Expired => Ok(ClaimedEnd::Expired),
                Some(now)
                    if matches!(
                        now.status,
                        CommandStatus::Scheduled | CommandStatus::Cancelled
                    ) =>
                {
                    Ok(ClaimedEnd::Lost)
                }
                _ => Ok(ClaimedEnd::Ran {
                    ok: false,
                    message: first_line(&error.to_string()),
                }),
            },
        }
    }

    fn now(&self) -> Timestamp {
        self.app.clock.now()
    }

    fn expire(&self, expires_at: Timestamp) -> Result<ClaimedEnd> {
        let reason = format!("expired: it could not start by {expires_at}");
        let store = self.app.store.as_ref();
        store.set_command_status(
            self.command.id,
            CommandStatus::Expired,
            None,
            Some(&reason),
            self.now(),
        )?;
        self.event(
            "command.expired",
            format!("command {} {reason}", self.command.id),
        )?;
        Ok(ClaimedEnd::Expired)
    }

    /// Ends the command `failed` with `reason` before anything ran.
    fn refuse(&self, reason: String) -> Result<ClaimedEnd> {
        let store = self.app.store.as_ref();
        let command = &self.command;
        let runner = LockHolder {
            owner: command.requested_by.clone(),
            pid: std::process::id(),
            machine: self.app.actor.machine.clone(),
            started_at: self.now().to_string(),
            message: format!("hoist serve: {} {}", command.kind, command.env),
            command_id: Some(command.id),
        };
        if store
            .start_claimed(command.id, self.controller, &runner, self.now())?
            .is_none()
        {
            return Ok(ClaimedEnd::Lost);
        }
        store.set_command_status(
            command.id,
            CommandStatus::Failed,
            None,
            Some(&reason),
            self.now(),
        )?;
        self.event(
            "command.failed",
            format!("{} {} failed: {reason}", command.kind, command.env),
        )?;
        Ok(ClaimedEnd::Refused(reason))
    }

    fn event(&self, kind: &str, message: String) -> Result<()> {
        self.app.store.append_event(&NewEvent {
            at: self.now(),
            env: Some(self.command.env.clone()),
            command_id: Some(self.command.id),
            kind: kind.to_owned(),
            message,
            actor: self.command.requested_by.clone(),
        })?;
        Ok(())
    }
}

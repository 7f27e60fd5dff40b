//! Is a recorded runner still alive? Only answerable for processes on this machine. A
//! command recorded `running` whose runner is provably dead (this machine, pid gone) is
//! recorded `interrupted` as soon as anyone reads it, so `commands list/show`, `status` and
//! the API never show a dead command as running.

use hoist_core::CommandStatus;

use crate::error::Result;
use crate::hostside::proc_identity;
use crate::ops::context::Context;
use crate::ports::host::LockHolder;
use crate::ports::store::{CommandRecord, NewEvent};

/// True when the holder ran on this machine and its process is gone.
pub fn holder_is_dead(holder: &LockHolder, machine: &str) -> bool {
    holder.machine == machine && !proc_identity::is_running(holder.pid)
}

/// Each command as it truly is (see `settled`).
pub fn settle_all(ctx: &Context<'_>, commands: Vec<CommandRecord>) -> Result<Vec<CommandRecord>> {
    commands
        .into_iter()
        .map(|command| settled(ctx, command))
        .collect()
}

/// `command`, recorded `interrupted` first (with a `command.interrupted` event) if it is
/// `running` and its runner is provably dead; else as it is.
pub fn settled(ctx: &Context<'_>, command: CommandRecord) -> Result<CommandRecord> {
    let dead = command.status == CommandStatus::Running
        && command
            .runner
            .as_ref()
            .is_some_and(|runner| holder_is_dead(runner, &ctx.actor.machine));
    if !dead {
        return Ok(command);
    }
    interrupt(ctx, command)
}

/// Records `command` (whose runner is dead) `interrupted`. If it changed meanwhile (another
/// reader recorded it, a controller resumed it), it is returned as it now is.
pub fn interrupt(ctx: &Context<'_>, command: CommandRecord) -> Result<CommandRecord> {
    let pid = command.runner.as_ref().map_or(0, |runner| runner.pid);
    let reason = format!("interrupted: its runner (pid {pid}) died");
    // Read again right before: a controller may have resumed it with a runner of its own.
    let current = ctx.store.command(command.id)?;
    let unchanged = current.as_ref().is_some_and(|current| {
        current.status == CommandStatus::Running && current.runner == command.runner
    });
    if !unchanged {
        return Ok(current.unwrap_or(command));
    }
    match ctx.store.set_command_status(
        command.id,
        CommandStatus::Interrupted,
        None,
        Some(&reason),
        ctx.clock.now(),
    ) {
        Ok(interrupted) => {
            ctx.store.append_event(&NewEvent {
                at: ctx.clock.now(),
                env: Some(command.env.clone()),
                command_id: Some(command.id),
                kind: "command.interrupted".to_owned(),
                message: format!("command {} {reason}", command.id),
                actor: ctx.actor.name.clone(),
            })?;
            Ok(interrupted)
        }
        // Refused: it left `running` meanwhile.
        Err(_) => Ok(ctx.store.command(command.id)?.unwrap_or(command)),
    }
}

//! One state-changing invocation as a recorded Command: inserted, the environment leased
//! (store) and locked (hosts), steps run with progress and a step log, the lifecycle state
//! advanced, the outcome recorded, and everything released — or, if the process dies, left
//! so that the next call sees the dead runner and continues.

use std::time::{Duration, Instant};

use hoist_core::lifecycle::transition;
use hoist_core::{Action, CommandStatus, EnvName, EnvState, HostAddress, Step};

use crate::error::{Error, Result};
use crate::hostside::root_mark;
use crate::known_secrets::KnownSecrets;
use crate::ops::context::Context;
use crate::ops::continuation::Continuation;
use crate::ops::environment_lease::{EnvironmentLease, lock_host};
use crate::ops::host_targets::host_targets;
use crate::ops::liveness;
use crate::ops::supervision::collect_host_events;
use crate::ports::HostHandle;
use crate::ports::host::LockHolder;
use crate::ports::store::{
    CommandFilter, CommandRecord, EnvironmentRecord, NewCommand, NewEvent, StepFailure,
    StepLogEntry,
};

pub struct CommandRun<'c> {
    pub ctx: &'c Context<'c>,
    pub action: Action,
    pub env_name: EnvName,
    /// The stored environment; `None` until `create` has run.
    pub env: Option<EnvironmentRecord>,
    pub command: CommandRecord,
    pub hosts: Vec<HostHandle>,
    /// Connections opened while the command was being recorded, not locked yet.
    early: Vec<(HostAddress, Result<HostHandle>)>,
    lease: Option<EnvironmentLease>,
    total: usize,
    index: usize,
    failed_step: Option<String>,
    /// A claimed command that was cancelled or rescheduled before it could start: its record
    /// is someone else's now and is left as it is.
    lost: bool,
    /// `--adopt`: the hosts' locks may claim deploy roots that hold files hoist did not put
    /// there (`hostside::root_mark`).
    pub adopt: bool,
    /// The command that continues this one after a failed step (`None`: nothing to
    /// continue, e.g. a refusal); named in the failure's hint.
    continuation: Option<Continuation>,
}

impl std::fmt::Debug for CommandRun<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandRun")
            .field("action", &self.action)
            .field("env", &self.env_name)
            .finish_non_exhaustive()
    }
}

impl<'c> CommandRun<'c> {
    /// Records the command, recovers from dead runners, takes the environment and checks the
    /// lifecycle allows `action`. Touches no host yet.
    pub fn begin(
        ctx: &'c Context<'c>,
        action: Action,
        env_name: &EnvName,
        args: serde_json::Value,
    ) -> Result<Self> {
        // An environment on this machine shares its CPU with the services it runs: the
        // controller's own work yields to them (this thread and those it starts), from the
        // moment the command has started (a scheduled one wakes for its start on time).
        let local = ctx.env_spec(env_name).is_ok_and(|env| {
            env.hosts
                .iter()
                .any(|host| matches!(host.address, hoist_core::HostAddress::Local { .. }))
        });
        if !local {
            crate::cpu_priority::restore_for_controller();
        }
        let command = match &ctx.claimed {
            Some(claimed) => ctx.store.command(claimed.id)?.ok_or_else(|| {
                Error::failed(format!("command {} is no longer recorded", claimed.id))
            })?,
            None => ctx.store.insert_command(&NewCommand {
                kind: action,
                env: env_name.clone(),
                args,
                requested_by: ctx.actor.name.clone(),
                status: CommandStatus::Scheduled,
                execute_at: None,
                expires_at: None,
                requested_token: None,
                created_at: ctx.clock.now(),
            })?,
        };
        let mut run = Self {
            ctx,
            action,
            env_name: env_name.clone(),
            env: None,
            command,
            hosts: Vec::new(),
            early: Vec::new(),
            lease: None,
            total: 1,
            index: 0,
            failed_step: None,
            lost: false,
            adopt: false,
            continuation: Continuation::of(action, env_name),
        };
        // SSH handshakes are the slowest part of a command: start them now, while the store
        // records the command and takes the lease. Locks are taken later, under the lease.
        let targets = match action {
            Action::Create | Action::Register => Vec::new(),
            _ => host_targets(ctx, env_name).unwrap_or_default(),
        };
        let started = std::thread::scope(|scope| {
            let connecting: Vec<_> = targets
                .iter()
                .map(|target| (target, scope.spawn(move || ctx.hosts.connect(target))))
                .collect();
            let started = run.start();
            if local {
                crate::cpu_priority::lower_for_controller();
            }
            for (target, worker) in connecting {
                let handle = worker
                    .join()
                    .unwrap_or_else(|_| Err(Error::internal("a connecting thread panicked")));
                run.early.push((target.address.clone(), handle));
            }
            started
        });
        match started {
            Ok(()) => Ok(run),
            Err(error) => Err(run.abandon(error)),
        }
    }

    fn start(&mut self) -> Result<()> {
        let ctx = self.ctx;
        let holder = LockHolder {
            owner: ctx.actor.name.clone(),
            pid: ctx.actor.pid,
            machine: ctx.actor.machine.clone(),
            started_at: ctx.clock.now().to_string(),
            message: format!("{} {} {}", ctx.invocation, self.action, self.env_name),
            command_id: Some(self.command.id),
        };
        self.lease = Some(EnvironmentLease::acquire(
            ctx,
            &self.env_name,
            holder.clone(),
        )?);
        self.mark_interrupted_commands()?;
        if let Some(at) = ctx.claimed.as_ref().and_then(|claimed| claimed.start_at) {
            sleep_until(at);
        }
        self.command = match &ctx.claimed {
            Some(claimed) => ctx
                .store
                .start_claimed(
                    self.command.id,
                    &claimed.controller,
                    &holder,
                    ctx.clock.now(),
                )?
                .ok_or_else(|| {
                    self.lost = true;
                    Error::failed(format!(
                        "command {} is no longer scheduled: it was cancelled, rescheduled or \
                         taken by another controller",
                        self.command.id
                    ))
                })?,
            None => ctx.store.set_command_status(
                self.command.id,
                CommandStatus::Running,
                Some(&holder),
                None,
                ctx.clock.now(),
            )?,
        };
        self.event(
            "command.started",
            format!(
                "{} {} started by {}",
                self.action, self.env_name, ctx.actor.name
            ),
        )?;
        self.env = ctx.store.environment(&self.env_name)?;
        transition(self.state(), self.action).map_err(|refusal| {
            // The table's hints name `hoist … ENV`: spelled out as this invocation would.
            let hint = refusal
                .hint
                .replace("`hoist ", &format!("`{} ", ctx.invocation))
                .replace(" ENV`", &format!(" {}`", self.env_name));
            Error::failed(refusal.to_string()).hint(hint)
        })?;
        Ok(())
    }

    /// Commands of this environment still `running` whose runner is dead are `interrupted`.
    fn mark_interrupted_commands(&self) -> Result<()> {
        let ctx = self.ctx;
        let filter = CommandFilter {
            env: Some(self.env_name.clone()),
            status: Some(CommandStatus::Running),
            limit: 0,
        };
        for stale in ctx.store.commands(&filter)? {
            // Under the lease, a running command without a runner is a dead one too.
            let dead = stale
                .runner
                .as_ref()
                .is_none_or(|runner| liveness::holder_is_dead(runner, &ctx.actor.machine));
            if stale.id != self.command.id && dead {
                let (id, kind, env) = (stale.id, stale.kind, stale.env.clone());
                if liveness::interrupt(ctx, stale)?.status == CommandStatus::Interrupted {
                    ctx.progress.note(&format!(
                        "command {id} ({kind} {env}) was interrupted; continuing from where it stopped"
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn state(&self) -> Option<EnvState> {
        self.env.as_ref().map(|env| env.state)
    }

    /// The stored environment; an internal error if it does not exist yet.
    pub fn env_mut(&mut self) -> Result<&mut EnvironmentRecord> {
        let name = &self.env_name;
        self.env
            .as_mut()
            .ok_or_else(|| Error::internal(format!("environment `{name}` is not recorded")))
    }

    pub fn save_env(&mut self) -> Result<()> {
        let now = self.ctx.clock.now();
        let env = self.env_mut()?;
        env.updated_at = now;
        let env = env.clone();
        self.ctx.store.save_environment(&env)
    }

    /// Connects to and locks every host of the environment not connected yet, all at once; on
    /// any failure the hosts already locked are released at `finish` and the first error
    /// names its host.
    pub fn connect_hosts(&mut self) -> Result<()> {
        let ctx = self.ctx;
        let mut targets = host_targets(ctx, &self.env_name)?;
        targets.retain(|target| {
            !self
                .hosts
                .iter()
                .any(|h| h.host.address() == &target.address)
        });
        let (adopt, adopt_hint) = (self.adopt, self.adopt_hint());
        let Some(lease) = self.lease.as_mut() else {
            return Err(Error::internal("hosts connected without a lease"));
        };
        let (holder, env) = (lease.holder().clone(), &self.env_name);
        let mut early = std::mem::take(&mut self.early);
        let connected: Vec<Result<HostHandle>> = std::thread::scope(|scope| {
            let workers: Vec<_> = targets
                .iter()
                .map(|target| {
                    let opened = early
                        .iter()
                        .position(|(address, _)| address == &target.address)
                        .map(|at| early.swap_remove(at).1);
                    let (holder, adopt_hint) = (&holder, &adopt_hint);
                    scope.spawn(move || {
                        let handle = match opened {
                            Some(opened) => opened?,
                            None => ctx.hosts.connect(target)?,
                        };
                        lock_host(ctx, env, holder, &handle, adopt).map_err(|mut error| {
                            if error.message.contains(root_mark::FOREIGN_ROOT) {
                                error.hints = vec![adopt_hint.clone()];
                            }
                            error
                        })?;
                        // What the host's supervisor did since hoist last talked to it.
                        if let Err(error) = collect_host_events(ctx, env, &handle) {
                            ctx.progress.note(&format!(
                                "{}: cannot read the host journal: {error}",
                                handle.host.address()
                            ));
                        }
                        Ok(handle)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|_| Err(Error::internal("a connecting thread panicked")))
                })
                .collect()
        });
        let mut first_error = None;
        for result in connected {
            match result {
                Ok(handle) => {
                    lease.mark_locked(&handle);
                    self.hosts.push(handle);
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Names the command that continues this one in a failed step's hint; `None` when
    /// there is nothing to continue (a refusal that running again would repeat).
    pub fn continue_with(&mut self, continuation: Option<Continuation>) {
        self.continuation = continuation;
    }

    /// The hint for a deploy root refused as someone else's: the exact command that adopts it.
    fn adopt_hint(&self) -> String {
        let adopting = match (&self.continuation, self.action) {
            (Some(continuation), Action::Provision | Action::Deploy) => {
                continuation.clone().with(["--adopt"])
            }
            _ => Continuation::provision_adopting(&self.env_name),
        };
        let then = match self.action {
            Action::Provision | Action::Deploy => String::new(),
            _ => ", then run this command again".to_owned(),
        };
        format!(
            "if hoist may share this directory, adopt it with `{}`{then}: hoist lays its tree \
             out beside these entries, and `destroy` deletes only what hoist added; otherwise \
             give the host a new or empty directory in `Hoist.toml`",
            self.ctx.continuation_line(&adopting)
        )
    }

    /// How many hosts at once (`parallel` of the environment's spec).
    pub fn parallel(&self) -> Result<usize> {
        Ok(self.ctx.env_spec(&self.env_name)?.rollout.parallel as usize)
    }

    /// How many steps this command will show (`[n/N]`).
    pub fn plan(&mut self, total: usize) {
        self.total = total.max(1);
    }

    /// Runs one step: progress, step log, events; a lifecycle `step` advances the state on
    /// success and records the failure otherwise (and, while it runs, records it as
    /// interrupted, so a crash leaves the right failure behind).
    pub fn step<T>(
        &mut self,
        label: &str,
        step: Option<Step>,
        body: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        self.index += 1;
        let (index, total) = (self.index, self.total.max(self.index));
        let started_at = self.ctx.clock.now();
        let started = Instant::now();
        self.ctx.progress.step_started(index, total, label);
        self.event("step.started", format!("{label} started"))?;
        let state_before = self.state();
        if let (Some(step), Some(_)) = (step, self.env.as_ref()) {
            self.record_failure(
                step,
                "interrupted: the runner stopped during this step".to_owned(),
            )?;
        }
        let result = body(self);
        let elapsed = started.elapsed();
        self.ctx
            .progress
            .step_finished(index, total, label, elapsed, result.is_ok());
        let detail = result.as_ref().err().map(|e| e.to_string());
        self.ctx.store.append_command_step(
            self.command.id,
            &StepLogEntry {
                step: label.to_owned(),
                ok: result.is_ok(),
                started_at,
                elapsed_ms: millis(elapsed),
                detail,
            },
        )?;
        match &result {
            Ok(_) => {
                if let Some(step) = step {
                    self.advance(state_before, step)?;
                }
                self.event(
                    "step.succeeded",
                    format!("{label} succeeded in {:.1}s", elapsed.as_secs_f64()),
                )?;
            }
            Err(error) => {
                if let Some(step) = step {
                    self.record_failure(step, first_line(&error.to_string()))?;
                }
                self.failed_step = Some(label.to_owned());
                self.event(
                    "step.failed",
                    format!("{label} failed: {}", first_line(&error.to_string())),
                )?;
            }
        }
        result
    }

    fn advance(&mut self, state_before: Option<EnvState>, step: Step) -> Result<()> {
        let next = transition(state_before, step.action())?;
        let env = self.env_mut()?;
        let changed = env.state != next;
        env.state = next;
        env.failure = None;
        self.save_env()?;
        if changed {
            self.event("env.state", format!("environment is {next}"))?;
        }
        Ok(())
    }

    /// Records a failure that happened outside a numbered step (deploy's build, which runs
    /// before it knows its plan) as a failure of `step`.
    pub fn record_step_failure(&mut self, step: Step, label: &str, error: &Error) -> Result<()> {
        self.failed_step = Some(label.to_owned());
        if self.env.is_some() {
            self.record_failure(step, first_line(&error.to_string()))?;
        }
        self.event(
            "step.failed",
            format!("{label} failed: {}", first_line(&error.to_string())),
        )
    }

    fn record_failure(&mut self, step: Step, error: String) -> Result<()> {
        let (at, command_id) = (self.ctx.clock.now(), Some(self.command.id));
        self.env_mut()?.failure = Some(StepFailure {
            step,
            error,
            at,
            command_id,
        });
        self.save_env()
    }

    /// Moves the environment to the state `action` leads to (for actions that are not
    /// lifecycle steps: rollback, remove, prune, destroy).
    pub fn set_state_after(&mut self, action: Action) -> Result<()> {
        let next = transition(self.state(), action)?;
        let env = self.env_mut()?;
        env.state = next;
        env.failure = None;
        self.save_env()?;
        self.event("env.state", format!("environment is {next}"))
    }

    pub fn event(&self, kind: &str, message: String) -> Result<()> {
        self.ctx.store.append_event(&NewEvent {
            at: self.ctx.clock.now(),
            env: Some(self.env_name.clone()),
            command_id: Some(self.command.id),
            kind: kind.to_owned(),
            message,
            actor: self.ctx.actor.name.clone(),
        })?;
        Ok(())
    }

    /// Records the outcome, writes each host's audit line and lets go of the environment.
    pub fn finish<T>(mut self, result: Result<T>) -> Result<T> {
        let ctx = self.ctx;
        // The audit line goes to the hosts, past the store's masking: masked here.
        let (status, error) = match &result {
            Ok(_) => (CommandStatus::Succeeded, None),
            Err(error) => (
                CommandStatus::Failed,
                Some(KnownSecrets::process().mask_owned(first_line(&error.to_string()))),
            ),
        };
        let recorded = ctx.store.set_command_status(
            self.command.id,
            status,
            None,
            error.as_deref(),
            ctx.clock.now(),
        );
        let audit = serde_json::json!({
            "at": ctx.clock.now().to_string(),
            "command_id": self.command.id,
            "action": self.action,
            "env": self.env_name,
            "actor": ctx.actor.name,
            "status": status,
            "error": error,
        });
        // A destroyed root has nowhere to hold its audit line (writing one would bring the
        // root back); the store keeps that command's record.
        let destroyed = self.action == Action::Destroy && status == CommandStatus::Succeeded;
        if destroyed {
            for handle in &self.hosts {
                handle.host.close_connection_when_done();
            }
        }
        let _ = self.event(
            &format!("command.{status}"),
            format!("{} {} {status}", self.action, self.env_name),
        );
        self.release(if destroyed { None } else { Some(&audit) });
        recorded?;
        result.map_err(|error| self.explain_failure(error))
    }

    /// Ends a command that never got going (locked, refused by the lifecycle): it is still
    /// recorded, as failed, with the reason.
    fn abandon(mut self, error: Error) -> Error {
        let ctx = self.ctx;
        let (id, now) = (self.command.id, ctx.clock.now());
        if self.lost {
            self.release(None);
            return error;
        }
        // A scheduled command that waited for a busy environment until its expiry did not
        // start: it expired.
        let waited_out = ctx.claimed.is_some()
            && self.command.status != CommandStatus::Running
            && error.kind == crate::error::ErrorKind::Locked;
        if waited_out {
            let _ = ctx.store.set_command_status(
                id,
                CommandStatus::Expired,
                None,
                Some(&first_line(&error.to_string())),
                now,
            );
            self.release(None);
            return error;
        }
        if matches!(
            self.command.status,
            CommandStatus::Scheduled | CommandStatus::Interrupted
        ) {
            let _ = ctx
                .store
                .set_command_status(id, CommandStatus::Running, None, None, now);
        }
        let _ = ctx.store.set_command_status(
            id,
            CommandStatus::Failed,
            None,
            Some(&first_line(&error.to_string())),
            now,
        );
        let _ = self.event(
            "command.failed",
            format!(
                "{} {} failed before it started: {}",
                self.action,
                self.env_name,
                first_line(&error.to_string())
            ),
        );
        self.release(None);
        error
    }

    /// Writes the audit line on every host, unlocks and disconnects them, drops the lease.
    fn release(&mut self, audit: Option<&serde_json::Value>) {
        let hosts = std::mem::take(&mut self.hosts);
        match self.lease.take() {
            Some(lease) => lease.release(self.ctx, &self.env_name, hosts, audit),
            None => crate::ops::fleet::close_all(hosts),
        }
    }

    fn explain_failure(&self, error: Error) -> Error {
        let Some(step) = &self.failed_step else {
            return error;
        };
        let error = error.context(format!(
            "{} of `{}` failed at step `{step}`",
            self.action, self.env_name
        ));
        match &self.continuation {
            Some(continuation) => error.hint(format!(
                "fix the cause above, then continue with `{}`",
                self.ctx.continuation_line(continuation)
            )),
            None => error,
        }
    }
}

/// Sleeps until `at` on the system clock (no-op when it has passed).
fn sleep_until(at: jiff::Timestamp) {
    if let Ok(left) = Duration::try_from(at.duration_since(jiff::Timestamp::now())) {
        std::thread::sleep(left);
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The first line of a message, for summaries that must stay one line.
pub fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

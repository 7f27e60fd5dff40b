//! Holding an environment: the store's lease (one command per environment across
//! controllers) and each host's lock file. A dead holder is taken over with a note; a live
//! one is waited for up to `--lock-wait`, then named in the error.

use std::thread;
use std::time::{Duration, Instant};

use hoist_core::EnvName;
use jiff::Timestamp;

use crate::error::{Error, Result};
use crate::ops::context::Context;
use crate::ops::liveness;
use crate::ports::HostHandle;
use crate::ports::host::{LockHolder, LockOutcome};
use crate::ports::store::LeaseOutcome;

/// Long enough for any step; renewed at every lock operation. A crashed runner on this
/// machine is detected by its pid long before the lease runs out.
const LEASE_TTL: Duration = Duration::from_secs(3600);
const RETRY_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub struct EnvironmentLease {
    holder: LockHolder,
    /// Hosts whose lock file we hold, by address.
    locked_hosts: Vec<String>,
}

impl EnvironmentLease {
    pub fn acquire(ctx: &Context<'_>, env: &EnvName, holder: LockHolder) -> Result<Self> {
        let deadline = Instant::now() + ctx.lock_wait;
        loop {
            match ctx
                .store
                .acquire_lease(env, &holder, LEASE_TTL, ctx.clock.now())?
            {
                LeaseOutcome::Acquired => {
                    return Ok(Self {
                        holder,
                        locked_hosts: Vec::new(),
                    });
                }
                LeaseOutcome::Held { holder: stale, .. }
                    if liveness::holder_is_dead(&stale, &ctx.actor.machine) =>
                {
                    if ctx.store.take_over_lease(
                        env,
                        &stale,
                        &holder,
                        LEASE_TTL,
                        ctx.clock.now(),
                    )? {
                        ctx.progress.note(&format!(
                            "took over the lease of `{env}` from a dead runner: {}",
                            describe(&stale)
                        ));
                        return Ok(Self {
                            holder,
                            locked_hosts: Vec::new(),
                        });
                    }
                }
                LeaseOutcome::Held { holder: other, .. } => {
                    if Instant::now() >= deadline {
                        return Err(locked_error(env, &other));
                    }
                }
            }
            thread::sleep(RETRY_EVERY);
        }
    }

    pub fn holder(&self) -> &LockHolder {
        &self.holder
    }

    /// Remembers that the lock file of `handle`'s host is ours, to release it at the end.
    pub fn mark_locked(&mut self, handle: &HostHandle) {
        self.locked_hosts.push(handle.host.address().to_string());
    }

    /// Lets go of every host — its audit line (if any), its lock, its connection — in one
    /// pass, all hosts at once, then the lease. Failures here must not hide the outcome.
    pub fn release(
        self,
        ctx: &Context<'_>,
        env: &EnvName,
        hosts: Vec<HostHandle>,
        audit: Option<&serde_json::Value>,
    ) {
        let (holder, locked) = (&self.holder, &self.locked_hosts);
        let let_go = move |handle: HostHandle| {
            if let Some(line) = audit {
                let _ = handle.host.audit(line);
            }
            if locked.contains(&handle.host.address().to_string()) {
                let _ = handle.host.unlock(holder);
            }
            drop(handle);
        };
        if hosts.len() <= 1 {
            hosts.into_iter().for_each(let_go);
        } else {
            thread::scope(|scope| {
                for handle in hosts {
                    scope.spawn(move || let_go(handle));
                }
            });
        }
        let _ = ctx.store.release_lease(env, &self.holder);
    }
}

/// Takes a host's lock file for `holder`, waiting like `EnvironmentLease::acquire` for a
/// live holder and reclaiming a dead one's with a note. `adopt`: see `Host::lock`.
pub fn lock_host(
    ctx: &Context<'_>,
    env: &EnvName,
    holder: &LockHolder,
    handle: &HostHandle,
    adopt: bool,
) -> Result<()> {
    let deadline = Instant::now() + ctx.lock_wait;
    loop {
        match handle.host.lock(holder, adopt)? {
            LockOutcome::Acquired => return Ok(()),
            LockOutcome::Reclaimed { stale } => {
                let address = handle.host.address();
                ctx.progress.note(&format!(
                    "reclaimed the lock on `{address}` from a dead holder: {}",
                    describe(&stale)
                ));
                return Ok(());
            }
            LockOutcome::Held { holder: other } => {
                if Instant::now() >= deadline {
                    let address = handle.host.address();
                    return Err(locked_error(env, &other)
                        .context(format!("host `{address}` of environment `{env}` is locked")));
                }
            }
        }
        thread::sleep(RETRY_EVERY);
    }
}

fn describe(holder: &LockHolder) -> String {
    let since = holder
        .started_at
        .parse::<Timestamp>()
        .ok()
        .map(|at| {
            let seconds = Timestamp::now().as_second().saturating_sub(at.as_second());
            match seconds {
                0..60 => format!("{seconds} seconds ago"),
                60..7200 => format!("{} minutes ago", seconds / 60),
                _ => format!("{} hours ago", seconds / 3600),
            }
        })
        .unwrap_or_else(|| holder.started_at.clone());
    format!(
        "`{}` started by {} (pid {}) {since}",
        holder.message, holder.owner, holder.pid
    )
}

fn locked_error(env: &EnvName, holder: &LockHolder) -> Error {
    Error::locked(format!("environment `{env}` is locked"))
        .cause(describe(holder))
        .hint("wait for it with `--lock-wait 5m`; a dead holder's lock is reclaimed automatically")
}

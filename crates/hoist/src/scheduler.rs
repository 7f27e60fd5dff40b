//! The scheduler inside `hoist serve`: it sleeps until the earliest scheduled command is due
//! (or a datagram says the queue changed), claims what is due, runs each claimed command on
//! its own thread, and keeps its claims and its controller record fresh. Several controllers
//! on one PostgreSQL store share the queue: a claim hands each command to one of them, and a
//! claim that is not renewed (its controller died) is taken over by another.

mod claimed_command;
pub(crate) mod spec_cache;
mod wake_socket;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};

use crate::app::App;
use crate::error::Result;
use crate::ports::Clock;
use crate::ports::command_queue::ControllerRecord;
use crate::ports::store::CommandRecord;
use crate::scheduler::claimed_command::{ClaimedCommandRun, ClaimedEnd};
use crate::scheduler::spec_cache::SpecCache;
use crate::scheduler::wake_socket::WakeSocket;

/// The longest sleep without looking at the store: a safety net for a lost wake-up (a
/// datagram dropped, a PostgreSQL controller on another machine), not the mechanism.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Commands due this soon are claimed now and prepared (spec, connections, lease), then
/// start at their exact time: what the store and thread start-up cost is paid early.
const LOOKAHEAD: Duration = Duration::from_millis(100);
/// How often the controller record is refreshed (`CONTROLLER_FRESH` is 30 s).
const ANNOUNCE_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// How long a claim holds without renewal: a dead controller's commands are taken over
    /// this long after its last renewal.
    pub claim_ttl: Duration,
    /// Commands run at once, at most.
    pub max_running: usize,
    /// At shutdown, how long running commands get to finish before they are recorded as
    /// interrupted (and resumed by the next controller).
    pub grace: Duration,
    /// The API's address, announced for clients.
    pub listen: Option<String>,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        Self {
            claim_ttl: Duration::from_secs(30),
            max_running: 32,
            grace: Duration::from_secs(30),
            listen: None,
        }
    }
}

/// Stops a running scheduler from another thread.
#[derive(Debug, Clone)]
pub struct SchedulerStop {
    stopping: Arc<AtomicBool>,
    wake: Arc<WakeSocket>,
}

impl SchedulerStop {
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.ring();
    }
}

#[derive(Debug)]
pub struct Scheduler {
    app: Arc<App>,
    specs: Arc<SpecCache>,
    options: SchedulerOptions,
    record: ControllerRecord,
    wake: Arc<WakeSocket>,
    stopping: Arc<AtomicBool>,
    running: Arc<Mutex<HashSet<i64>>>,
}

impl Scheduler {
    /// Binds the wake socket and announces the controller in the store.
    pub fn start(app: Arc<App>, options: SchedulerOptions) -> Result<Self> {
        let wake = Arc::new(WakeSocket::bind()?);
        let now = app.clock.now();
        let machine = app.actor.machine.clone();
        let pid = std::process::id();
        let record = ControllerRecord {
            id: format!("{machine}:{pid}:{}", now.as_millisecond()),
            machine,
            pid,
            listen: options.listen.clone(),
            wake: Some(wake.address().to_string()),
            started_at: now,
            seen_at: now,
        };
        app.store.serve_long_running()?;
        app.store.save_controller(&record)?;
        // On PostgreSQL, a change made from any machine wakes the scheduler too.
        let rings = Arc::clone(&wake);
        app.store.watch_queue(Box::new(move || rings.ring()))?;
        Ok(Self {
            specs: Arc::new(SpecCache::new(&app.spec.path)),
            app,
            options,
            record,
            wake,
            stopping: Arc::new(AtomicBool::new(false)),
            running: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }

    pub fn stopper(&self) -> SchedulerStop {
        SchedulerStop {
            stopping: Arc::clone(&self.stopping),
            wake: Arc::clone(&self.wake),
        }
    }

    /// Runs until stopped, then lets running commands finish (within the grace period).
    pub fn run(mut self) -> Result<()> {
        tracing::info!(
            "controller {} serving; woken at udp {}",
            self.record.id,
            self.wake.address()
        );
        let mut next_heartbeat = Instant::now() + self.heartbeat_every();
        while !self.stopping.load(Ordering::SeqCst) {
            let sleep = match self.pass(&mut next_heartbeat) {
                Ok(sleep) => sleep,
                Err(error) => {
                    tracing::warn!("scheduler: {error}; retrying in 1s");
                    Duration::from_secs(1)
                }
            };
            if !self.stopping.load(Ordering::SeqCst) {
                self.wake.sleep(sleep);
            }
        }
        self.shut_down();
        Ok(())
    }

    /// One look at the queue: heartbeat when due, claim and start what is due; returns how
    /// long to sleep.
    fn pass(&mut self, next_heartbeat: &mut Instant) -> Result<Duration> {
        if Instant::now() >= *next_heartbeat {
            self.heartbeat()?;
            *next_heartbeat = Instant::now() + self.heartbeat_every();
        }
        let free = self.free_slots();
        if free > 0 {
            let now = self.app.clock.now();
            let until = add(now, self.options.claim_ttl);
            let claimed =
                self.app
                    .store
                    .claim_due(&self.record.id, add(now, LOOKAHEAD), until, free)?;
            for command in claimed {
                self.spawn(command);
            }
        }
        let until_heartbeat = next_heartbeat.saturating_duration_since(Instant::now());
        let free = self.free_slots();
        let until_due = match (free, self.app.store.next_due()?) {
            // Full: a finishing command rings the wake socket.
            (0, _) | (_, None) => MAX_SLEEP,
            (_, Some(at)) => Duration::try_from(at.duration_since(self.app.clock.now()))
                .unwrap_or(Duration::ZERO)
                .saturating_sub(LOOKAHEAD),
        };
        Ok(until_due.min(until_heartbeat).min(MAX_SLEEP))
    }

    fn heartbeat_every(&self) -> Duration {
        (self.options.claim_ttl / 3).min(ANNOUNCE_EVERY)
    }

    /// Renews the claims on running commands and the controller record.
    fn heartbeat(&mut self) -> Result<()> {
        let now = self.app.clock.now();
        self.record.seen_at = now;
        self.app.store.save_controller(&self.record)?;
        let ids: Vec<i64> = self.running_ids().into_iter().collect();
        if !ids.is_empty() {
            let until = add(now, self.options.claim_ttl);
            for lost in self.app.store.renew_claims(&self.record.id, &ids, until)? {
                tracing::info!(
                    "scheduler: lost the claim on command {lost} (cancelled, or taken over after \
                     this controller stalled)"
                );
            }
        }
        Ok(())
    }

    fn spawn(&self, command: CommandRecord) {
        let id = command.id;
        self.lock_running().insert(id);
        let app = Arc::clone(&self.app);
        let specs = Arc::clone(&self.specs);
        let controller = self.record.id.clone();
        let running = Arc::clone(&self.running);
        let wake = Arc::clone(&self.wake);
        let spawned = std::thread::Builder::new()
            .name(format!("command-{id}"))
            .spawn(move || {
                let label = format!("command {id} ({} {})", command.kind, command.env);
                let run = ClaimedCommandRun {
                    app: &app,
                    specs: &specs,
                    controller: &controller,
                    command,
                };
                match run.run() {
                    Ok(end) => tracing::info!("{}", describe(&label, &end)),
                    Err(error) => tracing::warn!("{label}: {error}"),
                }
                running
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
                wake.ring();
            });
        if let Err(error) = spawned {
            tracing::info!("scheduler: cannot start a thread for command {id}: {error}");
            self.lock_running().remove(&id);
        }
    }

    /// Waits for running commands up to the grace period; records the rest as interrupted,
    /// so the next controller resumes them once their claim runs out.
    fn shut_down(&self) {
        let deadline = Instant::now() + self.options.grace;
        while !self.lock_running().is_empty() && Instant::now() < deadline {
            self.wake.sleep(Duration::from_millis(50));
        }
        let store = self.app.store.as_ref();
        for id in self.running_ids() {
            let reason = "interrupted: its controller shut down before it finished";
            let _ = store.set_command_status(
                id,
                hoist_core::CommandStatus::Interrupted,
                None,
                Some(reason),
                self.app.clock.now(),
            );
            tracing::info!("command {id}: {reason}; the next controller resumes it");
        }
        let _ = store.forget_controller(&self.record.id);
        tracing::info!("controller {} stopped", self.record.id);
    }

    fn free_slots(&self) -> usize {
        self.options
            .max_running
            .saturating_sub(self.lock_running().len())
    }

    fn running_ids(&self) -> HashSet<i64> {
        self.lock_running().clone()
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn describe(label: &str, end: &ClaimedEnd) -> String {
    match end {
        ClaimedEnd::Ran { ok: true, message } => format!("{label} succeeded: {message}"),
        ClaimedEnd::Ran { ok: false, message } => format!("{label} failed: {message}"),
        ClaimedEnd::Expired => format!("{label} expired: it could not start in its window"),
        ClaimedEnd::Refused(reason) => format!("{label} failed: {reason}"),
        ClaimedEnd::Lost => format!("{label} was cancelled or rescheduled before it started"),
    }
}

fn add(at: Timestamp, duration: Duration) -> Timestamp {
    SignedDuration::try_from(duration)
        .ok()
        .and_then(|duration| at.checked_add(duration).ok())
        .unwrap_or(at)
}

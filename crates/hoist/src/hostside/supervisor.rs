//! `hoist host --root R supervise` (hidden): keeps the instances handed to it running.
//!
//! It watches each slot's record (inotify on `run/`) and each supervised instance's process
//! (a pidfd, readable when it exits), so it sleeps until something happens — a restart
//! due, or a verdict from an instance's liveness thread. When a supervised instance exits it
//! records the exit, waits the backoff and starts the very launch spec again, or marks it
//! crash-looping. A liveness probe failing `liveness_failures` times in a row stops the
//! instance, which then counts as an exit. Every change happens under the slot's lock, which the controller's
//! start and stop take too, and only for an instance whose recorded pid and start time are
//! the dead process: the supervisor never starts a second copy, never touches an instance it
//! was not handed, and leaves one being stopped alone. Killed, it leaves the instances
//! running; the next one adopts them from their records.

mod journal;
mod liveness;
mod process;
mod restarts;

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::error::{Error, Result};
use crate::hostside::atomic_fs::is_still_named;
use crate::hostside::hoist_binary::hoist_binary;
use crate::hostside::instance_record::{InstanceRecords, now_ms};
use crate::hostside::proc_identity;
use crate::ports::runtime::{Slot, SupervisedStatus};

pub use journal::{Journal, event};
pub use process::{BinaryIdentity, SupervisorProcess, SupervisorRecord};

use liveness::LivenessWatch;

const SLOTS: [Slot; 3] = [Slot::Single, Slot::Blue, Slot::Green];
/// The longest sleep: a safety net against a missed notification. Every change it looks
/// for wakes it anyway (inotify on `run/`, a pidfd per instance); each wakeup costs an idle
/// host more than the look itself (see docs/BENCHMARKS.md, Supervision).
const SAFETY_TICK: Duration = Duration::from_secs(60);
/// How often an instance whose exit no pidfd reports (Linux before 5.3) is looked at.
const NO_PIDFD_TICK: Duration = Duration::from_secs(5);
/// How soon to try again when the slot's lock is busy (a deploy is starting or stopping it).
const LOCK_RETRY: Duration = Duration::from_millis(50);
/// Children a dead instance left behind get this long between SIGTERM and SIGKILL.
const STRAGGLER_GRACE: Duration = Duration::from_millis(500);

/// Runs until SIGTERM/SIGINT, or until the root is gone.
pub fn run(root: &Path) -> Result<()> {
    let process = SupervisorProcess::new(root);
    let run_dir = root.join("run");
    std::fs::create_dir_all(&run_dir).map_err(|e| Error::io("create", &run_dir, e))?;
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(process.lock_path())
        .map_err(|e| Error::io("open", &process.lock_path(), e))?;
    let lock = match Flock::lock(lock_file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        // Another supervisor of this root runs: it is the one.
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(()),
        Err((_, errno)) => {
            return Err(Error::failed("cannot lock the supervisor's lock file").cause(errno));
        }
    };
    let signals = stop_signals()?;
    let binary = hoist_binary(root)?;
    let me = std::process::id();
    process.write(&SupervisorRecord {
        pid: me,
        start_ticks: proc_identity::read(me).map_or(0, |stat| stat.start_ticks),
        started_at: jiff::Timestamp::now().to_string(),
        binary: BinaryIdentity::of(&binary)?,
    })?;
    // The liveness threads wake the loop through this when they have a verdict.
    let (woken, wake) = UnixStream::pair()
        .map_err(|e| Error::internal("cannot make the wakeup socket").cause(e))?;
    for socket in [&woken, &wake] {
        socket
            .set_nonblocking(true)
            .map_err(|e| Error::internal("cannot make the wakeup socket").cause(e))?;
    }
    let mut supervisor = Supervisor::new(root, wake);
    supervisor.note(
        "supervisor.started",
        format!("supervisor started (pid {me})"),
    );
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
        .map_err(|e| Error::internal("cannot watch the run directory").cause(e))?;
    inotify
        .add_watch(
            &run_dir,
            AddWatchFlags::IN_MOVED_TO
                | AddWatchFlags::IN_CLOSE_WRITE
                | AddWatchFlags::IN_DELETE
                | AddWatchFlags::IN_DELETE_SELF,
        )
        .map_err(|e| Error::internal("cannot watch the run directory").cause(e))?;
    loop {
        // The root removed by hand: nothing is left to supervise. `rm -rf` takes the lock file
        // first, which wakes the loop; the held lock keeps `run/` itself from reporting its
        // removal until it is closed, so a lock file no longer named is the sign.
        if !run_dir.is_dir() || !is_still_named(&lock, &process.lock_path()) {
            return Ok(());
        }
        let wait = supervisor.tick();
        let mut fds = vec![
            PollFd::new(inotify.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(woken.as_fd(), PollFlags::POLLIN),
        ];
        fds.extend(
            supervisor
                .watches
                .iter()
                .filter_map(|watch| watch.pidfd.as_ref())
                .map(|(_, _, fd)| PollFd::new(fd.as_fd(), PollFlags::POLLIN)),
        );
        let timeout = PollTimeout::try_from(wait.min(SAFETY_TICK)).unwrap_or(PollTimeout::MAX);
        let _ = poll(&mut fds, timeout);
        let signalled = fds
            .get(1)
            .and_then(PollFd::revents)
            .is_some_and(|events| !events.is_empty());
        drop(fds);
        if signalled {
            return Ok(());
        }
        // Only that something changed matters; each tick reads the records again.
        while inotify.read_events().is_ok_and(|events| !events.is_empty()) {}
        let mut drained = [0u8; 64];
        while (&woken).read(&mut drained).is_ok_and(|read| read > 0) {}
    }
}

/// SIGTERM, SIGINT and SIGHUP end the loop cleanly (instances keep running). They are caught
/// into a socket the loop polls, not blocked: a blocked mask would pass to the instances the
/// supervisor starts.
fn stop_signals() -> Result<UnixStream> {
    let failed = |e: std::io::Error| Error::internal("cannot catch the stop signals").cause(e);
    let (reader, writer) = UnixStream::pair().map_err(failed)?;
    reader.set_nonblocking(true).map_err(failed)?;
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        let writer = writer.try_clone().map_err(failed)?;
        signal_hook::low_level::pipe::register(signal, writer).map_err(failed)?;
    }
    Ok(reader)
}

/// What the supervisor keeps per slot between ticks.
#[derive(Debug, Default)]
struct SlotWatch {
    /// The supervised process's pidfd, with the pid and start time it was opened for.
    pidfd: Option<(u32, u64, OwnedFd)>,
    liveness: LivenessWatch,
}

struct Supervisor {
    root: PathBuf,
    records: InstanceRecords,
    journal: Journal,
    watches: [SlotWatch; 3],
    /// Handed to the liveness threads, to wake the loop.
    wake: UnixStream,
}

impl Supervisor {
    fn new(root: &Path, wake: UnixStream) -> Self {
        Self {
            root: root.to_path_buf(),
            records: InstanceRecords::new(root),
            journal: Journal::new(root),
            watches: Default::default(),
            wake,
        }
    }

    /// Looks at every slot and does what is due; returns how long it may sleep.
    fn tick(&mut self) -> Duration {
        let mut wait = SAFETY_TICK;
        for (index, slot) in SLOTS.into_iter().enumerate() {
            let next = self.tick_slot(index, slot);
            wait = wait.min(next);
        }
        wait
    }

    fn tick_slot(&mut self, index: usize, slot: Slot) -> Duration {
        let record = match self.records.read(slot) {
            Ok(record) => record,
            Err(error) => {
                log(&format!("{slot}: {error}"));
                None
            }
        };
        let Some(record) = record.filter(|r| r.supervision.is_some() && !r.stopping) else {
            self.watches[index] = SlotWatch::default();
            return SAFETY_TICK;
        };
        let Some(supervision) = record.supervision.as_ref() else {
            return SAFETY_TICK;
        };
        let (pid, ticks) = (record.instance.pid, record.instance.start_ticks);
        match supervision.status {
            SupervisedStatus::CrashLooping => {
                self.watches[index] = SlotWatch::default();
                SAFETY_TICK
            }
            SupervisedStatus::Restarting => {
                self.watches[index] = SlotWatch::default();
                let due = supervision.next_restart_ms.unwrap_or(0);
                let now = now_ms();
                if now < due {
                    return Duration::from_millis(due - now);
                }
                self.restart(slot)
            }
            SupervisedStatus::Running => {
                if !proc_identity::is_same_running(pid, ticks) {
                    self.watches[index] = SlotWatch::default();
                    return self.exited(slot);
                }
                let watch = &mut self.watches[index];
                if watch
                    .pidfd
                    .as_ref()
                    .is_none_or(|(p, t, _)| (*p, *t) != (pid, ticks))
                {
                    *watch = SlotWatch {
                        pidfd: open_pidfd(pid, ticks),
                        liveness: LivenessWatch::default(),
                    };
                }
                let unwatched = match watch.pidfd {
                    Some(_) => SAFETY_TICK,
                    None => NO_PIDFD_TICK,
                };
                let policy = &supervision.policy;
                match watch.liveness.tick(&self.root, &record, policy, &self.wake) {
                    liveness::Verdict::Healthy => unwatched,
                    liveness::Verdict::Failed(answer) => {
                        self.unhealthy(slot, &record, policy, &answer);
                        LOCK_RETRY
                    }
                }
            }
        }
    }

    fn note(&self, kind: &str, message: String) {
        if let Err(error) = self.journal.append(event(kind, message)) {
            log(&format!("cannot write the journal: {error}"));
        }
    }

    fn note_instance(
        &self,
        kind: &str,
        message: String,
        slot: Slot,
        release: &hoist_core::ReleaseId,
        pid: u32,
    ) {
        log(&format!("{slot}: {message}"));
        let mut entry = event(kind, message);
        entry.slot = Some(slot);
        entry.release = Some(release.clone());
        entry.pid = Some(pid);
        if let Err(error) = self.journal.append(entry) {
            log(&format!("cannot write the journal: {error}"));
        }
    }
}

/// A pidfd for `pid`, if it still is the process that started at `ticks`.
fn open_pidfd(pid: u32, ticks: u64) -> Option<(u32, u64, OwnedFd)> {
    let raw = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    let fd = rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()).ok()?;
    // Checked after opening: if the pid was reused in between, the start time differs.
    proc_identity::is_same_running(pid, ticks).then_some((pid, ticks, fd))
}

/// The supervisor's log is its stderr (`logs/supervisor.log`).
fn log(line: &str) {
    #[expect(
        clippy::print_stderr,
        reason = "the supervisor's stderr is its log file"
    )]
    {
        eprintln!("{} {line}", jiff::Timestamp::now());
    }
}

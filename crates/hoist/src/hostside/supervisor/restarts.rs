//! What the supervisor does when an instance exits, is due for a restart, cannot be
//! restarted, or fails its liveness probes: each under the slot's lock, and only for the
//! recorded process.

use std::time::Duration;

use hoist_core::supervision::{AfterExit, after_exit};

use super::{LOCK_RETRY, SAFETY_TICK, STRAGGLER_GRACE, Supervisor, log};
use crate::hostside::instance_record::{InstanceRecord, RecordedPolicy, now_ms};
use crate::hostside::proc_identity;
use crate::hostside::process_runtime::{reap_later, spawn_monitor, terminate_group};
use crate::ports::runtime::{ExitReport, Slot, SupervisedStatus};

impl Supervisor {
    /// The supervised instance of `slot` is dead: record the exit, and plan a restart or
    /// give up. Returns how soon to look again.
    pub(super) fn exited(&mut self, slot: Slot) -> Duration {
        let Ok(Some(_lock)) = self.records.try_lock(slot) else {
            return LOCK_RETRY;
        };
        let Ok(Some(mut record)) = self.records.read(slot) else {
            return SAFETY_TICK;
        };
        let (pid, ticks) = (record.instance.pid, record.instance.start_ticks);
        let release = record.instance.release.clone();
        if record.stopping || proc_identity::is_same_running(pid, ticks) {
            return Duration::ZERO;
        }
        let Some(supervision) = record.supervision.as_mut() else {
            return SAFETY_TICK;
        };
        if supervision.status != SupervisedStatus::Running {
            return Duration::ZERO;
        }
        // The backoff counts from the exit, not from when its leftovers are gone: a service
        // that takes the whole grace to stop must not delay its restart by as much.
        let now = now_ms();
        // What the dead instance left behind would hold its port.
        if let Err(error) =
            terminate_group(pid, ticks, "a dead instance's children", STRAGGLER_GRACE)
        {
            log(&format!("{slot}: {error}"));
        }
        let how = self
            .records
            .exit_of(slot, pid, ticks)
            .map_or_else(|| "unknown".to_owned(), |exit| exit.describe());
        supervision.push_exit(
            now,
            ExitReport {
                at: jiff::Timestamp::now().to_string(),
                status: how.clone(),
            },
        );
        let policy = supervision.policy.restart();
        let (kind, message) = match after_exit(&policy, &supervision.exits_ms, now) {
            AfterExit::RestartAfter(wait) => {
                supervision.status = SupervisedStatus::Restarting;
                supervision.next_restart_ms =
                    Some(now + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
                (
                    "instance.exited",
                    format!(
                        "`{release}` (pid {pid}) exited ({how}); restarting in {}",
                        hoist_core::duration::format_duration(wait)
                    ),
                )
            }
            AfterExit::CrashLoop { exits } => {
                supervision.status = SupervisedStatus::CrashLooping;
                supervision.next_restart_ms = None;
                (
                    "instance.crash_loop",
                    format!(
                        "`{release}` (pid {pid}) exited ({how}), {exits} times within {}: crash-looping, not restarted until the next deploy or `hoist restart`",
                        hoist_core::duration::format_duration(policy.window)
                    ),
                )
            }
        };
        if let Err(error) = self.records.write(slot, &record) {
            log(&format!("{slot}: {error}"));
            return LOCK_RETRY;
        }
        self.note_instance(kind, message, slot, &record.instance.release, pid);
        Duration::ZERO
    }

    /// Starts the slot's launch spec again, if it is still due.
    pub(super) fn restart(&mut self, slot: Slot) -> Duration {
        let Ok(Some(_lock)) = self.records.try_lock(slot) else {
            return LOCK_RETRY;
        };
        let Ok(Some(mut record)) = self.records.read(slot) else {
            return SAFETY_TICK;
        };
        let due = record.supervision.as_ref().is_some_and(|s| {
            s.status == SupervisedStatus::Restarting
                && s.next_restart_ms.is_none_or(|at| at <= now_ms())
        });
        if record.stopping || !due {
            return Duration::ZERO;
        }
        let old_pid = record.instance.pid;
        let Some(launch) = record.launch.clone() else {
            return self.give_up(
                slot,
                record,
                "it was started by an older hoist, which did not record how",
            );
        };
        // Leftovers of the dead group would hold the port.
        let _ = terminate_group(
            old_pid,
            record.instance.start_ticks,
            "a dead instance's children",
            STRAGGLER_GRACE,
        );
        match spawn_monitor(&self.root, slot, &launch) {
            Ok((child, instance)) => {
                reap_later(child);
                let pid = instance.pid;
                record.instance = instance;
                if let Some(supervision) = record.supervision.as_mut() {
                    supervision.status = SupervisedStatus::Running;
                    supervision.next_restart_ms = None;
                    supervision.restarts += 1;
                }
                let restarts = record.supervision.as_ref().map_or(0, |s| s.restarts);
                if let Err(error) = self.records.write(slot, &record) {
                    log(&format!("{slot}: {error}"));
                }
                self.note_instance(
                    "instance.restarted",
                    format!(
                        "restarted `{}` (pid {pid}, restart {restarts}; was pid {old_pid})",
                        launch.release
                    ),
                    slot,
                    &launch.release,
                    pid,
                );
                Duration::ZERO
            }
            Err(error) => {
                // A start that fails counts as an exit, with the same backoff.
                if let Some(supervision) = record.supervision.as_mut() {
                    let now = now_ms();
                    supervision.push_exit(
                        now,
                        ExitReport {
                            at: jiff::Timestamp::now().to_string(),
                            status: format!("could not start: {error}"),
                        },
                    );
                    match after_exit(&supervision.policy.restart(), &supervision.exits_ms, now) {
                        AfterExit::RestartAfter(wait) => {
                            supervision.next_restart_ms =
                                Some(now + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
                        }
                        AfterExit::CrashLoop { .. } => {
                            supervision.status = SupervisedStatus::CrashLooping;
                            supervision.next_restart_ms = None;
                        }
                    }
                }
                let _ = self.records.write(slot, &record);
                self.note_instance(
                    "instance.start_failed",
                    format!("could not restart `{}`: {error}", launch.release),
                    slot,
                    &launch.release,
                    old_pid,
                );
                Duration::ZERO
            }
        }
    }

    pub(super) fn give_up(
        &mut self,
        slot: Slot,
        mut record: InstanceRecord,
        why: &str,
    ) -> Duration {
        if let Some(supervision) = record.supervision.as_mut() {
            supervision.status = SupervisedStatus::CrashLooping;
            supervision.next_restart_ms = None;
        }
        let _ = self.records.write(slot, &record);
        let release = record.instance.release.clone();
        self.note_instance(
            "instance.crash_loop",
            format!("cannot restart `{release}`: {why}; the next deploy starts it"),
            slot,
            &release,
            record.instance.pid,
        );
        SAFETY_TICK
    }

    /// Liveness failed: stop the instance (off this thread: the grace may be long); its exit
    /// is then handled like any other.
    pub(super) fn unhealthy(
        &mut self,
        slot: Slot,
        record: &InstanceRecord,
        policy: &RecordedPolicy,
        answer: &str,
    ) {
        let (pid, ticks) = (record.instance.pid, record.instance.start_ticks);
        let failures = policy.liveness.as_ref().map_or(0, |l| l.failures);
        self.note_instance(
            "instance.unhealthy",
            format!(
                "`{}` (pid {pid}) failed {failures} liveness probes in a row ({answer}); stopping it to restart it",
                record.instance.release
            ),
            slot,
            &record.instance.release,
            pid,
        );
        let grace = Duration::from_millis(policy.stop_grace_ms);
        let release = record.instance.release.clone();
        drop(std::thread::Builder::new().spawn(move || {
            let what = format!("the unhealthy instance of `{release}`");
            if let Err(error) = terminate_group(pid, ticks, &what, grace) {
                log(&format!("{slot}: {error}"));
            }
        }));
    }
}

//! Liveness of one supervised instance: a probe every `liveness_interval`, run on a thread of
//! its own so a hanging service never stalls the supervisor; `liveness_failures` failures in a
//! row are a verdict. An instance the supervisor restarted gets what a deploy gives a new one —
//! its health check's `initial_delay` + `deadline` from its start — to answer once before
//! failures count, or a short interval would stop every restart while it is still starting.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use hoist_core::spec::Health;
use hoist_core::supervision::{Liveness, liveness_failed};

use super::{SAFETY_TICK, until};
use crate::adapters::http_probe::HttpProbe;
use crate::hostside::host_call::WireHealth;
use crate::hostside::instance_record::{InstanceRecord, RecordedPolicy, now_ms};
use crate::ports::probe::Probe;

/// How often to look for a probe's answer while one runs.
const ANSWER_POLL: Duration = Duration::from_millis(50);

pub(super) enum Verdict {
    /// Nothing to do; look again within this long.
    Wait(Duration),
    /// Failed this many times in a row; the last answer.
    Failed(String),
}

#[derive(Debug, Default)]
pub(super) struct LivenessWatch {
    next_probe: Option<Instant>,
    failures: u32,
    /// It answered healthy once: from then on every failure counts.
    answered: bool,
    in_flight: Option<Receiver<Result<String, String>>>,
}

impl LivenessWatch {
    pub(super) fn tick(
        &mut self,
        root: &Path,
        record: &InstanceRecord,
        policy: &RecordedPolicy,
    ) -> Verdict {
        let Some(recorded) = &policy.liveness else {
            return Verdict::Wait(SAFETY_TICK);
        };
        let every = Liveness {
            interval: Duration::from_millis(recorded.interval_ms),
            failures: recorded.failures,
        };
        if every.interval.is_zero() {
            return Verdict::Wait(SAFETY_TICK);
        }
        if let Some(answers) = &self.in_flight {
            match answers.try_recv() {
                Ok(Ok(_)) => {
                    self.failures = 0;
                    self.answered = true;
                    self.in_flight = None;
                }
                Ok(Err(_))
                    if !answered(self.answered, record) && starting(record, &recorded.health) =>
                {
                    self.in_flight = None;
                }
                Ok(Err(answer)) => {
                    self.failures += 1;
                    self.in_flight = None;
                    if liveness_failed(&every, self.failures) {
                        self.failures = 0;
                        return Verdict::Failed(answer);
                    }
                }
                Err(TryRecvError::Empty) => return Verdict::Wait(ANSWER_POLL),
                Err(TryRecvError::Disconnected) => self.in_flight = None,
            }
        }
        let now = Instant::now();
        let Some(due) = self.next_probe else {
            // A new instance gets one interval to settle before the first probe.
            let first = now + every.interval;
            self.next_probe = Some(first);
            return Verdict::Wait(until(first));
        };
        if now < due {
            return Verdict::Wait(until(due));
        }
        self.next_probe = Some(now + every.interval);
        let Ok(health) = Health::try_from(recorded.health.clone()) else {
            return Verdict::Wait(every.interval);
        };
        let (answer, answers) = mpsc::channel();
        let (root, port) = (root.to_path_buf(), record.instance.port);
        // Only the instance's own answer counts (its pid leads its process group).
        let owner = Some(record.instance.pid);
        let release = record.instance.release.clone();
        let spawned = std::thread::Builder::new()
            .name("liveness".to_owned())
            .spawn(move || {
                let result = HttpProbe::new(&root).probe_once(port, &health, &release, owner);
                let _ = answer.send(result);
            });
        if spawned.is_ok() {
            self.in_flight = Some(answers);
        }
        Verdict::Wait(ANSWER_POLL)
    }
}

/// Whether the instance answered healthy once: seen by this watch, or it is the instance the
/// controller handed over (no restart since), which it did only after its probe passed.
fn answered(seen: bool, record: &InstanceRecord) -> bool {
    seen || record
        .supervision
        .as_ref()
        .is_none_or(|supervision| supervision.restarts == 0)
}

/// Whether the instance is still within its start-up allowance: its health check's
/// `initial_delay` + `deadline` since it started (an unreadable start time allows nothing).
fn starting(record: &InstanceRecord, health: &WireHealth) -> bool {
    let Ok(started) = record.instance.started_at.parse::<jiff::Timestamp>() else {
        return false;
    };
    let allowance = health.initial_delay_ms.saturating_add(health.deadline_ms);
    let started_ms = u64::try_from(started.as_millisecond()).unwrap_or(0);
    now_ms() < started_ms.saturating_add(allowance)
}

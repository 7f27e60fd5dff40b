//! Liveness of one supervised instance: a probe every `liveness_interval`, run on a thread of
//! its own so a hanging service never stalls the supervisor; `liveness_failures` failures in a
//! row are a verdict.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use hoist_core::spec::Health;
use hoist_core::supervision::{Liveness, liveness_failed};

use super::{SAFETY_TICK, until};
use crate::adapters::http_probe::HttpProbe;
use crate::hostside::instance_record::{InstanceRecord, RecordedPolicy};
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

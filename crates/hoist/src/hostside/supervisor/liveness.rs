//! Liveness of one supervised instance: a thread of its own probes it every
//! `liveness_interval` (so a hanging service never stalls the supervisor) and counts the
//! failures in a row; only `liveness_failures` of them make a verdict, which it hands to the
//! supervisor and wakes it for. A healthy instance thus costs the supervisor's loop no wakeup
//! at all: on a host where a wakeup costs more than the look (a VM), those add up. An
//! instance the supervisor restarted gets what a deploy gives a new one — its health check's
//! `initial_delay` + `deadline` from its start — to answer once before failures count, or a
//! short interval would stop every restart while it is still starting.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

use hoist_core::ReleaseId;
use hoist_core::spec::Health;
use hoist_core::supervision::{Liveness, liveness_failed};

use crate::hostside::host_call::WireHealth;
use crate::hostside::http_probe::HttpProbe;
use crate::hostside::instance_record::{InstanceRecord, RecordedLiveness, RecordedPolicy, now_ms};
use crate::ports::probe::Probe;

pub(super) enum Verdict {
    /// Nothing to do.
    Healthy,
    /// Failed this many times in a row; the last answer.
    Failed(String),
}

/// The probing thread of one instance; it ends when this is dropped (its stop channel
/// disconnects).
#[derive(Debug, Default)]
pub(super) struct LivenessWatch {
    running: Option<Prober>,
}

#[derive(Debug)]
struct Prober {
    /// What it was started for: another policy starts another thread.
    policy: RecordedLiveness,
    _stop: Sender<()>,
    verdicts: Receiver<String>,
}

impl LivenessWatch {
    /// Starts the thread for `record`'s instance if it has none (or had another policy), and
    /// takes the verdict it sent, if any. `wake` is written to when a verdict is sent.
    pub(super) fn tick(
        &mut self,
        root: &Path,
        record: &InstanceRecord,
        policy: &RecordedPolicy,
        wake: &UnixStream,
    ) -> Verdict {
        let Some(recorded) = policy.liveness.as_ref().filter(|l| l.interval_ms > 0) else {
            self.running = None;
            return Verdict::Healthy;
        };
        if let Some(prober) = &self.running
            && prober.policy == *recorded
        {
            return match prober.verdicts.try_recv() {
                Ok(answer) => Verdict::Failed(answer),
                Err(TryRecvError::Empty) => Verdict::Healthy,
                // The thread could not go on (its health check does not parse): nothing
                // probes this instance until it changes.
                Err(TryRecvError::Disconnected) => Verdict::Healthy,
            };
        }
        self.running = start(root, record, recorded, wake);
        Verdict::Healthy
    }
}

fn start(
    root: &Path,
    record: &InstanceRecord,
    recorded: &RecordedLiveness,
    wake: &UnixStream,
) -> Option<Prober> {
    let (stop, stopped) = mpsc::channel();
    let (verdict, verdicts) = mpsc::channel();
    let target = Target {
        probe: HttpProbe::new(root),
        port: record.instance.port,
        release: record.instance.release.clone(),
        // Only the instance's own answer counts (its pid leads its process group).
        owner: record.instance.pid,
        handed_over: handed_over(record),
        started_ms: started_ms(record),
    };
    let liveness = recorded.clone();
    let wake = wake.try_clone().ok()?;
    std::thread::Builder::new()
        .name("liveness".to_owned())
        .spawn(move || probe_loop(&target, &liveness, &stopped, &verdict, &wake))
        .ok()?;
    Some(Prober {
        policy: recorded.clone(),
        _stop: stop,
        verdicts,
    })
}

struct Target {
    probe: HttpProbe,
    port: u16,
    release: ReleaseId,
    owner: u32,
    /// The controller handed it over, which it did only after its probe passed.
    handed_over: bool,
    started_ms: Option<u64>,
}

impl Target {
    /// Whether it is still within its start-up allowance: its health check's
    /// `initial_delay` + `deadline` since it started (an unreadable start time allows
    /// nothing).
    fn starting(&self, health: &WireHealth) -> bool {
        let allowance = health.initial_delay_ms.saturating_add(health.deadline_ms);
        self.started_ms
            .is_some_and(|started| now_ms() < started.saturating_add(allowance))
    }
}

/// It is the instance the controller handed over: no restart since.
fn handed_over(record: &InstanceRecord) -> bool {
    record
        .supervision
        .as_ref()
        .is_none_or(|supervision| supervision.restarts == 0)
}

fn started_ms(record: &InstanceRecord) -> Option<u64> {
    let started = record.instance.started_at.parse::<jiff::Timestamp>().ok()?;
    u64::try_from(started.as_millisecond()).ok()
}

fn probe_loop(
    target: &Target,
    recorded: &RecordedLiveness,
    stopped: &Receiver<()>,
    verdict: &Sender<String>,
    mut wake: &UnixStream,
) {
    let Ok(health) = Health::try_from(recorded.health.clone()) else {
        return;
    };
    let every = Liveness {
        interval: Duration::from_millis(recorded.interval_ms),
        failures: recorded.failures,
    };
    let mut failures = 0;
    // It answered healthy once: from then on every failure counts.
    let mut answered = target.handed_over;
    // A new instance gets one interval to settle before the first probe; probes start an
    // interval apart, however long each takes.
    let mut due = Instant::now() + every.interval;
    loop {
        match stopped.recv_timeout(due.saturating_duration_since(Instant::now())) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        due = Instant::now() + every.interval;
        let answer =
            target
                .probe
                .probe_once(target.port, &health, &target.release, Some(target.owner));
        let Err(answer) = answer else {
            failures = 0;
            answered = true;
            continue;
        };
        if !answered && target.starting(&recorded.health) {
            continue;
        }
        failures += 1;
        if liveness_failed(&every, failures) {
            failures = 0;
            if verdict.send(answer).is_err() {
                return;
            }
            // The socket is non-blocking: a full one has a wakeup pending already.
            let _ = wake.write(&[1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;

    use super::*;
    use crate::hostside::host_call::WireHealthCheck;
    use crate::hostside::instance_record::SupervisionRecord;
    use crate::ports::runtime::Instance;

    fn record(port: u16) -> InstanceRecord {
        InstanceRecord {
            instance: Instance {
                release: "20260101T000000Z-0123abcd".parse().unwrap(),
                pid: std::process::id(),
                start_ticks: 0,
                port,
                started_at: String::new(),
                log: String::new(),
            },
            launch: None,
            supervision: None,
            stopping: false,
        }
    }

    fn policy(interval_ms: u64, failures: u32) -> RecordedPolicy {
        RecordedPolicy {
            backoff_ms: 1_000,
            backoff_max_ms: 60_000,
            crash_loop: 5,
            window_ms: 120_000,
            liveness: Some(RecordedLiveness {
                health: WireHealth {
                    check: WireHealthCheck::Tcp,
                    interval_ms: 10,
                    timeout_ms: 200,
                    deadline_ms: 1_000,
                    successes: 1,
                    initial_delay_ms: 0,
                },
                interval_ms,
                failures,
            }),
            stop_grace_ms: 1_000,
        }
    }

    fn closed_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// Ticks until a verdict, at most `within`.
    fn verdict_within(
        watch: &mut LivenessWatch,
        record: &InstanceRecord,
        policy: &RecordedPolicy,
        wake: &UnixStream,
        within: Duration,
    ) -> Option<String> {
        let root = tempfile::tempdir().unwrap();
        let started = Instant::now();
        while started.elapsed() < within {
            if let Verdict::Failed(answer) = watch.tick(root.path(), record, policy, wake) {
                return Some(answer);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    #[test]
    fn failures_in_a_row_make_one_verdict_and_wake_the_loop() {
        let (mut woken, wake) = UnixStream::pair().unwrap();
        wake.set_nonblocking(true).unwrap();
        let (record, policy) = (record(closed_port()), policy(30, 3));
        let mut watch = LivenessWatch::default();
        let answer = verdict_within(&mut watch, &record, &policy, &wake, Duration::from_secs(5))
            .expect("a verdict within 5 s");
        assert!(!answer.is_empty());
        let mut byte = [0u8; 1];
        woken
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        assert_eq!(woken.read(&mut byte).unwrap(), 1, "the loop was woken");
    }

    /// An instance the supervisor restarted `ago` ago.
    fn restarted(port: u16, ago: Duration) -> InstanceRecord {
        let mut record = record(port);
        let started = jiff::Timestamp::now() - jiff::SignedDuration::try_from(ago).unwrap();
        record.instance.started_at = started.to_string();
        let mut supervision = SupervisionRecord::new(policy(30, 2));
        supervision.restarts = 1;
        record.supervision = Some(supervision);
        record
    }

    #[test]
    fn a_restarted_instance_gets_its_health_deadline_before_failures_count() {
        let (_woken, wake) = UnixStream::pair().unwrap();
        wake.set_nonblocking(true).unwrap();
        // deadline 1 s: failing probes every 30 ms count only after it.
        let port = closed_port();
        let mut watch = LivenessWatch::default();
        let (fresh, policy) = (restarted(port, Duration::ZERO), policy(30, 2));
        assert!(
            verdict_within(
                &mut watch,
                &fresh,
                &policy,
                &wake,
                Duration::from_millis(500)
            )
            .is_none(),
            "no verdict within its start-up allowance"
        );
        assert!(
            verdict_within(&mut watch, &fresh, &policy, &wake, Duration::from_secs(5)).is_some(),
            "failures count once the allowance is over"
        );
        let mut watch = LivenessWatch::default();
        let old = restarted(port, Duration::from_secs(60));
        assert!(
            verdict_within(&mut watch, &old, &policy, &wake, Duration::from_secs(5)).is_some(),
            "an instance past its allowance fails at once"
        );
    }

    #[test]
    fn no_liveness_or_a_zero_interval_starts_no_thread() {
        let (_woken, wake) = UnixStream::pair().unwrap();
        let record = record(closed_port());
        let mut watch = LivenessWatch::default();
        let off = RecordedPolicy {
            liveness: None,
            ..policy(30, 1)
        };
        assert!(
            verdict_within(&mut watch, &record, &off, &wake, Duration::from_millis(300)).is_none()
        );
        assert!(watch.running.is_none());
        assert!(
            verdict_within(
                &mut watch,
                &record,
                &policy(0, 1),
                &wake,
                Duration::from_millis(300)
            )
            .is_none()
        );
        assert!(watch.running.is_none());
    }

    #[test]
    fn dropping_the_watch_ends_its_thread() {
        let (mut woken, wake) = UnixStream::pair().unwrap();
        let record = record(closed_port());
        let mut watch = LivenessWatch::default();
        // Started; its first probe would be in 5 s.
        let _ = watch.tick(
            tempfile::tempdir().unwrap().path(),
            &record,
            &policy(5_000, 1),
            &wake,
        );
        assert!(watch.running.is_some());
        drop(watch);
        drop(wake);
        woken
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut byte = [0u8; 1];
        // Every writer gone (the thread ended at once, with its clone) and nothing written:
        // end of file well before the first probe was due.
        assert_eq!(woken.read(&mut byte).unwrap(), 0);
    }
}

//! The summary of a run: counts by outcome, latency percentiles and the rate achieved.
//! Latency percentiles cover the requests answered with a status; failed requests are
//! counted by kind instead, since the time to a refused connect or a timeout would drag
//! the percentiles toward numbers that describe no response.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::outcome::{ErrorKind, Outcome, Record};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub total: u64,
    /// Answered with a 2xx status.
    pub ok: u64,
    /// Answered with any other status.
    pub non_2xx: u64,
    /// Not answered, by kind; every kind is present, zero or not.
    pub errors: BTreeMap<&'static str, u64>,
    pub latency_us: Latency,
    /// Requests sent per second over the run's elapsed time.
    pub achieved_rate: f64,
    pub elapsed_seconds: f64,
}

/// Percentiles (nearest rank) of the answered requests; none when nothing was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Latency {
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p99: Option<u64>,
    pub max: Option<u64>,
}

impl Summary {
    pub fn of(records: &[Record], elapsed: Duration) -> Self {
        let mut errors: BTreeMap<&'static str, u64> =
            ErrorKind::ALL.iter().map(|kind| (kind.name(), 0)).collect();
        let (mut ok, mut non_2xx) = (0, 0);
        let mut answered: Vec<u64> = Vec::with_capacity(records.len());
        for record in records {
            match record.outcome {
                Outcome::Status(_) if record.outcome.is_success() => ok += 1,
                Outcome::Status(_) => non_2xx += 1,
                Outcome::Failed(kind) => *errors.entry(kind.name()).or_default() += 1,
            }
            if let Outcome::Status(_) = record.outcome {
                answered.push(record.latency_us);
            }
        }
        answered.sort_unstable();
        let total = records.len() as u64;
        let elapsed_seconds = elapsed.as_secs_f64();
        Self {
            total,
            ok,
            non_2xx,
            errors,
            latency_us: Latency {
                p50: percentile(&answered, 50.0),
                p90: percentile(&answered, 90.0),
                p99: percentile(&answered, 99.0),
                max: answered.last().copied(),
            },
            achieved_rate: if elapsed_seconds > 0.0 {
                total as f64 / elapsed_seconds
            } else {
                0.0
            },
            elapsed_seconds,
        }
    }

    pub fn failed(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn to_text(&self) -> String {
        let show = |value: Option<u64>| value.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let mut text = format!(
            "requests: {} total, {} ok (2xx), {} non-2xx, {} failed\n",
            self.total,
            self.ok,
            self.non_2xx,
            self.failed()
        );
        let errors: Vec<String> = self
            .errors
            .iter()
            .map(|(kind, count)| format!("{kind} {count}"))
            .collect();
        let _ = writeln!(text, "errors: {}", errors.join(", "));
        let _ = writeln!(
            text,
            "latency (us, answered requests): p50 {}, p90 {}, p99 {}, max {}",
            show(self.latency_us.p50),
            show(self.latency_us.p90),
            show(self.latency_us.p99),
            show(self.latency_us.max)
        );
        let _ = writeln!(
            text,
            "achieved rate: {:.1} requests/s over {:.2} s",
            self.achieved_rate, self.elapsed_seconds
        );
        text
    }
}

/// The nearest-rank percentile of `sorted` (ascending): the smallest value with at least
/// `percent` % of the values at or below it.
pub fn percentile(sorted: &[u64], percent: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 50.0), Some(50));
        assert_eq!(percentile(&hundred, 90.0), Some(90));
        assert_eq!(percentile(&hundred, 99.0), Some(99));
        assert_eq!(percentile(&hundred, 100.0), Some(100));
        assert_eq!(percentile(&hundred, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[10, 20, 30], 50.0), Some(20));
        assert_eq!(percentile(&[10, 20, 30, 40], 50.0), Some(20));
        assert_eq!(percentile(&[10, 20, 30, 40], 51.0), Some(30));
        assert_eq!(percentile(&[], 50.0), None);
    }

    fn record(latency_us: u64, outcome: Outcome) -> Record {
        Record {
            start_unix_ns: 0,
            latency_us,
            outcome,
        }
    }

    #[test]
    fn every_request_is_counted_once_and_failures_stay_out_of_the_latency() {
        let records = [
            record(100, Outcome::Status(200)),
            record(300, Outcome::Status(204)),
            record(200, Outcome::Status(502)),
            record(5_000_000, Outcome::Failed(ErrorKind::Timeout)),
            record(40, Outcome::Failed(ErrorKind::Connect)),
            record(60, Outcome::Failed(ErrorKind::Connect)),
        ];
        let summary = Summary::of(&records, Duration::from_secs(2));
        assert_eq!(summary.total, 6);
        assert_eq!((summary.ok, summary.non_2xx, summary.failed()), (2, 1, 3));
        assert_eq!(summary.errors["connect"], 2);
        assert_eq!(summary.errors["timeout"], 1);
        assert_eq!(summary.errors["reset"], 0);
        assert_eq!(summary.latency_us.p50, Some(200));
        assert_eq!(summary.latency_us.max, Some(300));
        assert!((summary.achieved_rate - 3.0).abs() < 1e-9);
        assert!(
            summary
                .to_text()
                .contains("connect 2, other 0, reset 0, timeout 1")
        );
    }

    #[test]
    fn an_empty_run_has_no_percentiles_and_no_rate() {
        let summary = Summary::of(&[], Duration::ZERO);
        assert_eq!(summary.latency_us.p99, None);
        assert_eq!(summary.achieved_rate, 0.0);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["latency_us"]["p50"], serde_json::Value::Null);
        assert_eq!(json["errors"]["reset"], 0);
    }
}

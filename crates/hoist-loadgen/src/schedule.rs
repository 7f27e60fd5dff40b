//! Pacing: request `i` of the whole run is due at `start + i / rate`, whichever connection
//! sends it. Connections take the next due time from one shared counter, so the total rate
//! holds however the requests spread over connections, and a connection stuck on a slow
//! request simply takes fewer. A request that falls behind its due time is sent at once
//! (the load stays constant over the run instead of silently dropping to what the server
//! can take); its latency is measured from when it was really sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct Schedule {
    start: Instant,
    rate_per_second: f64,
    duration: Duration,
    max_requests: Option<u64>,
    next_index: AtomicU64,
}

impl Schedule {
    pub fn new(
        start: Instant,
        rate_per_second: f64,
        duration: Duration,
        max_requests: Option<u64>,
    ) -> Self {
        Self {
            start,
            rate_per_second,
            duration,
            max_requests,
            next_index: AtomicU64::new(0),
        }
    }

    /// When the next request is due, or none once the run has sent all it may.
    pub fn next_due(&self) -> Option<Instant> {
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        if self.max_requests.is_some_and(|max| index >= max) {
            return None;
        }
        let offset = due_offset(index, self.rate_per_second);
        (offset < self.duration).then(|| self.start + offset)
    }
}

/// How long after the start request `index` is due at `rate_per_second`.
pub fn due_offset(index: u64, rate_per_second: f64) -> Duration {
    // f64 holds every index below 2^53 exactly, far beyond any run's count.
    Duration::from_secs_f64(index as f64 / rate_per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_spaced_evenly_at_the_total_rate() {
        assert_eq!(due_offset(0, 100.0), Duration::ZERO);
        assert_eq!(due_offset(1, 100.0), Duration::from_millis(10));
        assert_eq!(due_offset(250, 100.0), Duration::from_millis(2500));
        assert_eq!(due_offset(3, 2000.0), Duration::from_micros(1500));
    }

    #[test]
    fn the_schedule_ends_at_the_duration() {
        let start = Instant::now();
        let schedule = Schedule::new(start, 10.0, Duration::from_secs(1), None);
        let due: Vec<Instant> = std::iter::from_fn(|| schedule.next_due()).collect();
        assert_eq!(due.len(), 10, "due at 0.0 s, 0.1 s, ... 0.9 s");
        assert_eq!(due[9] - start, Duration::from_millis(900));
    }

    #[test]
    fn the_schedule_ends_at_max_requests_before_the_duration() {
        let schedule = Schedule::new(Instant::now(), 1000.0, Duration::from_secs(60), Some(5));
        assert_eq!(std::iter::from_fn(|| schedule.next_due()).count(), 5);
        assert_eq!(schedule.next_due(), None, "stays ended");
    }

    #[test]
    fn connections_sharing_the_schedule_never_get_the_same_slot() {
        let schedule = std::sync::Arc::new(Schedule::new(
            Instant::now(),
            1_000_000.0,
            Duration::from_secs(1),
            Some(4000),
        ));
        let takers: Vec<_> = (0..4)
            .map(|_| {
                let schedule = std::sync::Arc::clone(&schedule);
                std::thread::spawn(move || std::iter::from_fn(|| schedule.next_due()).count())
            })
            .collect();
        let taken: usize = takers.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(taken, 4000);
    }
}

//! What the supervisor on a host does when an instance exits or stops answering: restart it
//! after a backoff that doubles with each recent exit, or give up after a crash loop. Pure:
//! the supervisor passes in the times it saw, in milliseconds since the epoch.

use std::time::Duration;

/// `[service.restart]`: how the supervisor restarts an instance that exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// The wait before the first restart; each further exit within `window` doubles it.
    pub backoff: Duration,
    /// The longest wait.
    pub backoff_max: Duration,
    /// This many exits within `window` is a crash loop: no more restarts until a deploy or
    /// `hoist restart` starts the instance again.
    pub crash_loop: u32,
    pub window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            crash_loop: 5,
            window: Duration::from_secs(120),
        }
    }
}

/// `[service.health] liveness_interval`, `liveness_failures`: while an instance runs, the
/// supervisor probes it every `interval`; this many failures in a row restart it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// Zero: no liveness probing.
    pub interval: Duration,
    pub failures: u32,
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
            failures: 3,
        }
    }
}

/// What to do after an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterExit {
    /// Start it again after this wait.
    RestartAfter(Duration),
    /// `exits` exits within the window: stop restarting.
    CrashLoop { exits: u32 },
}

/// The exits of `exits_ms` (times, any order) that fall within `window` before `now_ms`.
pub fn recent_exits(exits_ms: &[u64], now_ms: u64, window: Duration) -> Vec<u64> {
    let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
    let since = now_ms.saturating_sub(window_ms);
    let mut recent: Vec<u64> = exits_ms
        .iter()
        .copied()
        .filter(|&at| at >= since && at <= now_ms)
        .collect();
    recent.sort_unstable();
    recent
}

/// Decides after an exit at `now_ms`; `exits_ms` holds the earlier exits and this one.
pub fn after_exit(policy: &RestartPolicy, exits_ms: &[u64], now_ms: u64) -> AfterExit {
    let count = u32::try_from(recent_exits(exits_ms, now_ms, policy.window).len())
        .unwrap_or(u32::MAX)
        .max(1);
    if count >= policy.crash_loop.max(1) {
        return AfterExit::CrashLoop { exits: count };
    }
    AfterExit::RestartAfter(backoff(policy, count))
}

/// The wait before restart number `count` within the window: `backoff × 2^(count-1)`, at
/// most `backoff_max`.
pub fn backoff(policy: &RestartPolicy, count: u32) -> Duration {
    let doublings = count.saturating_sub(1).min(32);
    let factor = 1u32.checked_shl(doublings).unwrap_or(u32::MAX);
    policy
        .backoff
        .checked_mul(factor)
        .unwrap_or(policy.backoff_max)
        .min(policy.backoff_max)
}

/// Whether `consecutive` failed liveness probes call for a restart.
pub fn liveness_failed(liveness: &Liveness, consecutive: u32) -> bool {
    liveness.interval > Duration::ZERO && consecutive >= liveness.failures.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000;

    fn policy() -> RestartPolicy {
        RestartPolicy::default()
    }

    #[test]
    fn the_wait_doubles_with_each_recent_exit_up_to_the_cap() {
        let waits: Vec<Duration> = (1..=9).map(|n| backoff(&policy(), n)).collect();
        let seconds: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
        assert_eq!(seconds, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(&policy(), u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn a_lone_exit_restarts_after_the_first_backoff() {
        let now = 100_000 * S;
        assert_eq!(
            after_exit(&policy(), &[now], now),
            AfterExit::RestartAfter(Duration::from_secs(1))
        );
        // Exits older than the window are forgotten: an hourly crash is always a first one.
        let old = [now - 3_600 * S, now - 7_200 * S, now - 130 * S, now];
        assert_eq!(
            after_exit(&policy(), &old, now),
            AfterExit::RestartAfter(Duration::from_secs(1))
        );
    }

    #[test]
    fn exits_within_the_window_back_off_then_make_a_crash_loop() {
        let now = 1_000 * S;
        let exits = [now - 10 * S, now - 5 * S, now];
        assert_eq!(
            after_exit(&policy(), &exits, now),
            AfterExit::RestartAfter(Duration::from_secs(4))
        );
        let five = [now - 40 * S, now - 30 * S, now - 20 * S, now - 10 * S, now];
        assert_eq!(
            after_exit(&policy(), &five, now),
            AfterExit::CrashLoop { exits: 5 }
        );
    }

    #[test]
    fn a_crash_loop_limit_of_zero_or_one_gives_up_at_the_first_exit() {
        let strict = RestartPolicy {
            crash_loop: 0,
            ..policy()
        };
        assert_eq!(
            after_exit(&strict, &[5], 5),
            AfterExit::CrashLoop { exits: 1 }
        );
    }

    #[test]
    fn recent_exits_ignores_the_future_and_sorts() {
        assert_eq!(
            recent_exits(&[30, 10, 500, 20], 100, Duration::from_millis(80)),
            vec![20, 30]
        );
    }

    #[test]
    fn liveness_restarts_after_the_failures_in_a_row_unless_off() {
        let liveness = Liveness::default();
        assert!(!liveness_failed(&liveness, 2));
        assert!(liveness_failed(&liveness, 3));
        let off = Liveness {
            interval: Duration::ZERO,
            ..liveness
        };
        assert!(!liveness_failed(&off, 100));
    }
}

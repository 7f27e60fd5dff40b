//! When a scheduled command runs and until when it may still start: `--at TIME` or `--in
//! 2h30m`, and `--start-within` (default 15 minutes) after which a command that could not start
//! is `expired` rather than run late. Pure: the caller supplies `now`.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// How long after its time a scheduled command may still start.
pub const DEFAULT_START_WITHIN: Duration = Duration::from_secs(15 * 60);

/// When the command was asked to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    At(Timestamp),
    In(Duration),
}

/// The times a scheduled command is stored with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub execute_at: Timestamp,
    /// Past this, the command ends `expired` instead of starting.
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{at} is in the past (now is {now})")]
    InThePast { at: Timestamp, now: Timestamp },
    #[error("`--start-within` must be longer than zero")]
    NoStartWindow,
    #[error("the time is out of range")]
    OutOfRange,
}

impl ScheduleError {
    pub fn hint(&self) -> &'static str {
        match self {
            Self::InThePast { .. } => {
                "give a later time, or `--in 10m`; to run now, leave `--at` out"
            }
            Self::NoStartWindow => "e.g. `--start-within 15m` (the default)",
            Self::OutOfRange => "give a time within the next few years",
        }
    }
}

/// Plans a command asked to run `when`, as seen at `now`.
pub fn plan(now: Timestamp, when: When, start_within: Duration) -> Result<Schedule, ScheduleError> {
    if start_within.is_zero() {
        return Err(ScheduleError::NoStartWindow);
    }
    let execute_at = match when {
        When::At(at) if at < now => return Err(ScheduleError::InThePast { at, now }),
        When::At(at) => at,
        When::In(after) => add(now, after)?,
    };
    Ok(Schedule {
        execute_at,
        expires_at: add(execute_at, start_within)?,
    })
}

/// What a scheduled command whose time has come does at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Not yet: sleep until `execute_at`.
    Wait,
    Start,
    /// Too late to start: it ends `expired`.
    Expire,
}

pub fn due(schedule: &Schedule, now: Timestamp) -> Due {
    if now < schedule.execute_at {
        Due::Wait
    } else if now <= schedule.expires_at {
        Due::Start
    } else {
        Due::Expire
    }
}

fn add(at: Timestamp, duration: Duration) -> Result<Timestamp, ScheduleError> {
    let signed = SignedDuration::try_from(duration).map_err(|_| ScheduleError::OutOfRange)?;
    at.checked_add(signed)
        .map_err(|_| ScheduleError::OutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn in_counts_from_now_and_the_window_from_the_time() {
        let schedule = plan(
            at(1_000),
            When::In(Duration::from_secs(90)),
            DEFAULT_START_WITHIN,
        )
        .unwrap();
        assert_eq!(schedule.execute_at, at(1_090));
        assert_eq!(schedule.expires_at, at(1_090 + 900));
    }

    #[test]
    fn a_time_in_the_past_is_refused_and_now_is_accepted() {
        let error = plan(at(1_000), When::At(at(999)), DEFAULT_START_WITHIN).unwrap_err();
        assert!(matches!(error, ScheduleError::InThePast { .. }));
        assert!(error.hint().contains("--in"));
        assert!(plan(at(1_000), When::At(at(1_000)), DEFAULT_START_WITHIN).is_ok());
        assert_eq!(
            plan(at(1_000), When::In(Duration::ZERO), Duration::ZERO),
            Err(ScheduleError::NoStartWindow)
        );
        assert_eq!(
            plan(
                at(1_000),
                When::In(Duration::from_secs(u64::MAX)),
                DEFAULT_START_WITHIN
            ),
            Err(ScheduleError::OutOfRange)
        );
    }

    #[test]
    fn due_waits_starts_within_the_window_then_expires() {
        let schedule = plan(at(0), When::At(at(100)), Duration::from_secs(10)).unwrap();
        assert_eq!(due(&schedule, at(99)), Due::Wait);
        assert_eq!(due(&schedule, at(100)), Due::Start);
        assert_eq!(due(&schedule, at(110)), Due::Start);
        assert_eq!(due(&schedule, at(111)), Due::Expire);
    }
}

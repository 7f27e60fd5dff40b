//! `[service.restart]`: how the supervisor on each host restarts an instance that exited or
//! failed its liveness probe — a backoff that doubles, and a crash-loop limit.

use super::defaults;
use super::problems::Problems;
use super::section::Section;
use crate::duration::format_duration;
use crate::supervision::RestartPolicy;

const KEYS: &[&str] = &["backoff", "backoff_max", "crash_loop", "window"];

pub(super) fn default_restart() -> RestartPolicy {
    RestartPolicy {
        backoff: defaults::RESTART_BACKOFF,
        backoff_max: defaults::RESTART_BACKOFF_MAX,
        crash_loop: defaults::RESTART_CRASH_LOOP,
        window: defaults::RESTART_WINDOW,
    }
}

pub(super) fn read_restart(section: &Section<'_>, problems: &mut Problems) -> RestartPolicy {
    section.check_keys(KEYS, problems);
    let defaults = default_restart();
    let duration = |key, default, problems: &mut Problems| {
        section
            .field(key)
            .and_then(|field| field.duration(false, problems))
            .unwrap_or(default)
    };
    let backoff = duration("backoff", defaults.backoff, problems);
    let backoff_max = duration("backoff_max", defaults.backoff_max, problems);
    let window = duration("window", defaults.window, problems);
    let crash_loop = section
        .field("crash_loop")
        .and_then(|field| field.integer(1, 1_000, problems))
        .and_then(|count| u32::try_from(count).ok())
        .unwrap_or(defaults.crash_loop);
    if backoff_max < backoff {
        let span = section
            .field("backoff_max")
            .or_else(|| section.field("backoff"))
            .and_then(|field| field.span());
        problems.error(
            span,
            format!(
                "restart `backoff_max` ({}) must be at least `backoff` ({})",
                format_duration(backoff_max),
                format_duration(backoff)
            ),
        );
    }
    RestartPolicy {
        backoff,
        backoff_max,
        crash_loop,
        window,
    }
}

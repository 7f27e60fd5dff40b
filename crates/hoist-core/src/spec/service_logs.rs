//! `[service] log_max` and `log_keep`: the size at which a host rotates an instance's log
//! (`NAME.log` → `NAME.log.1` …) and how many rotated files it keeps.

use super::defaults;
use super::problems::Problems;
use super::section::Section;

/// The smallest `log_max`: below it every few lines would rotate.
pub(super) const MIN_LOG_MAX: u64 = 1024;
/// The most rotated files `log_keep` may ask for.
pub(super) const MAX_LOG_KEEP: i64 = 100;

/// `(log_max in bytes, log_keep)` of `[service]`, defaults where left out.
pub(super) fn read_log_settings(service: &Section<'_>, problems: &mut Problems) -> (u64, u32) {
    let log_max = service
        .field("log_max")
        .and_then(|field| {
            let bytes = field.byte_size("10MB", problems)?;
            if bytes < MIN_LOG_MAX {
                problems.error_with_hint(
                    field.span(),
                    "`log_max` must be at least `1KB`",
                    "a log is rotated when it reaches `log_max`; the default is `10MB`",
                );
                return None;
            }
            Some(bytes)
        })
        .unwrap_or(defaults::LOG_MAX);
    let log_keep = service
        .field("log_keep")
        .and_then(|field| field.integer(1, MAX_LOG_KEEP, problems))
        .and_then(|keep| u32::try_from(keep).ok())
        .unwrap_or(defaults::LOG_KEEP);
    (log_max, log_keep)
}

//! A time as pages show it: in UTC, with how far from now in words (the page's script
//! adds the viewer's zone and keeps countdowns moving), and as `datetime` for `<time>`.

use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    /// RFC 3339, for `<time datetime>` and the script.
    pub iso: String,
    /// `2026-12-05 14:03:07 UTC`.
    pub utc: String,
    /// `in 3 min`, `5 s ago`.
    pub relative: String,
}

impl Moment {
    pub fn new(at: Timestamp, now: Timestamp) -> Self {
        Self {
            iso: at.to_string(),
            utc: at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
            relative: relative(at.duration_since(now)),
        }
    }
}

/// `in 5 min` for a time ahead, `2 h ago` for one behind, `now` within a second.
pub fn relative(ahead: SignedDuration) -> String {
    let seconds = ahead.as_secs();
    let amount = amount(seconds.unsigned_abs());
    match seconds {
        0 => "now".to_owned(),
        1.. => format!("in {amount}"),
        _ => format!("{amount} ago"),
    }
}

/// `42 s`, `3 min`, `5 h`, `2 d`: the largest unit that fits, rounded down.
pub fn amount(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..86_400 => format!("{} h", seconds / 3600),
        _ => format!("{} d", seconds / 86_400),
    }
}

/// A duration in words for how long a command took: `850 ms`, `12.4 s`, `3 min 5 s`.
pub fn took(millis: u64) -> String {
    match millis {
        0..1000 => format!("{millis} ms"),
        1000..60_000 => format!("{:.1} s", millis as f64 / 1000.0),
        _ => format!("{} min {} s", millis / 60_000, (millis % 60_000) / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_ahead_or_behind_in_the_largest_unit() {
        assert_eq!(relative(SignedDuration::from_secs(0)), "now");
        assert_eq!(relative(SignedDuration::from_secs(42)), "in 42 s");
        assert_eq!(relative(SignedDuration::from_secs(-180)), "3 min ago");
        assert_eq!(relative(SignedDuration::from_secs(7200)), "in 2 h");
        assert_eq!(relative(SignedDuration::from_secs(-3 * 86_400)), "3 d ago");
    }

    #[test]
    fn a_moment_has_its_iso_form_and_utc_text() {
        let at: Timestamp = "2026-12-05T14:03:07Z".parse().unwrap();
        let now: Timestamp = "2026-12-05T14:00:07Z".parse().unwrap();
        let moment = Moment::new(at, now);
        assert_eq!(moment.iso, "2026-12-05T14:03:07Z");
        assert_eq!(moment.utc, "2026-12-05 14:03:07 UTC");
        assert_eq!(moment.relative, "in 3 min");
    }

    #[test]
    fn durations_read_in_their_unit() {
        assert_eq!(took(850), "850 ms");
        assert_eq!(took(12_400), "12.4 s");
        assert_eq!(took(185_000), "3 min 5 s");
    }
}

//! A time as a form gives it: a date and time of day (`<input type="datetime-local">`) in a
//! named zone (the browser's, filled in by the page's script, or picked), or a whole RFC 3339
//! time. A time without a zone is refused rather than guessed.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use crate::server::dashboard::page_error::PageError;

/// The zones offered when the browser's is not known, besides UTC.
pub const COMMON_ZONES: [&str; 12] = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Moscow",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
];

/// `local` (`2026-12-24T09:00`, seconds optional) in `zone` (an IANA name), or `local` alone
/// when it carries its offset (`2026-12-24T09:00:00+01:00`, `…Z`).
pub fn parse_when(local: &str, zone: &str) -> Result<Timestamp, PageError> {
    let local = local.trim();
    let zone = zone.trim();
    if local.is_empty() {
        return Err(PageError::bad_request("no date and time given")
            .hint("pick a date and a time of day, or choose to run it now"));
    }
    if let Ok(at) = local.parse::<Timestamp>() {
        return Ok(at);
    }
    let civil: DateTime = local.parse().map_err(|error| {
        PageError::bad_request(format!("`{local}` is not a date and time: {error}"))
            .hint("use the form's date picker, or write it as 2026-12-24T09:00")
    })?;
    if zone.is_empty() {
        return Err(PageError::bad_request(format!("`{local}` has no time zone"))
            .hint("pick the zone the time is in (UTC if unsure), or write the time with its offset, e.g. 2026-12-24T09:00:00Z"));
    }
    let tz = TimeZone::get(zone).map_err(|error| {
        PageError::bad_request(format!("`{zone}` is not a time zone: {error}"))
            .hint("use an IANA name such as Europe/Berlin or UTC")
    })?;
    let zoned = tz.to_ambiguous_zoned(civil).compatible().map_err(|error| {
        PageError::bad_request(format!("`{local}` does not exist in {zone}: {error}"))
    })?;
    Ok(zoned.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_time_is_read_in_its_zone() {
        let at = parse_when("2026-12-24T09:00", "Europe/Berlin").unwrap();
        assert_eq!(at.to_string(), "2026-12-24T08:00:00Z");
        let at = parse_when("2026-07-01T09:00:30", "America/New_York").unwrap();
        assert_eq!(at.to_string(), "2026-07-01T13:00:30Z");
    }

    #[test]
    fn a_time_with_its_offset_needs_no_zone() {
        let at = parse_when("2026-12-24T09:00:00+01:00", "").unwrap();
        assert_eq!(at.to_string(), "2026-12-24T08:00:00Z");
    }

    #[test]
    fn a_time_without_a_zone_or_with_a_bad_one_is_refused() {
        for (local, zone, says) in [
            ("2026-12-24T09:00", "", "has no time zone"),
            ("2026-12-24T09:00", "Mars/Olympus", "is not a time zone"),
            ("tomorrow", "UTC", "is not a date and time"),
            ("", "UTC", "no date and time"),
        ] {
            match parse_when(local, zone) {
                Err(PageError::Failed(error)) => {
                    assert!(error.message.contains(says), "{local} {zone}: {error:?}");
                    assert!(error.hint.is_some(), "{local} {zone}: {error:?}");
                }
                other => panic!("{local} {zone}: {other:?}"),
            }
        }
    }
}

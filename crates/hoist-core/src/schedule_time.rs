//! `--at` times: an instant with its offset (RFC 3339: `2026-12-04T09:00:00+01:00`,
//! `…Z`), a local time with a zone name in brackets (`2026-12-04T09:00[Europe/Berlin]`),
//! or a local time followed by a zone name (`2026-12-04 09:00 Europe/Berlin`). A time
//! without a zone is refused: "09:00" means different instants on different machines.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtError {
    #[error("`{0}` has no time zone")]
    NoZone(String),
    #[error("`{text}` names an unknown time zone `{zone}`")]
    UnknownZone { text: String, zone: String },
    #[error("`{0}` is not a time")]
    Malformed(String),
}

impl AtError {
    pub fn hint(&self) -> &'static str {
        match self {
            Self::NoZone(_) => {
                "add a zone: `2026-12-04T09:00:00Z`, `2026-12-04T09:00:00+01:00` or \
                 `2026-12-04 09:00 Europe/Berlin`"
            }
            Self::UnknownZone { .. } => "use an IANA zone name such as `Europe/Berlin` or `UTC`",
            Self::Malformed(_) => {
                "write RFC 3339 (`2026-12-04T09:00:00Z`) or a local time and a zone \
                 (`2026-12-04 09:00 Europe/Berlin`); for a delay use `--in 2h30m`"
            }
        }
    }
}

pub fn parse_at(text: &str) -> Result<Timestamp, AtError> {
    let text = text.trim();
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    if text.contains('[') {
        return text
            .parse::<Zoned>()
            .map(|zoned| zoned.timestamp())
            .map_err(|_| AtError::Malformed(text.to_owned()));
    }
    if text.parse::<DateTime>().is_ok() {
        return Err(AtError::NoZone(text.to_owned()));
    }
    if let Some((local, zone)) = text.rsplit_once(' ')
        && let Ok(local) = local.trim().parse::<DateTime>()
    {
        let zone_name = zone.trim();
        let tz = TimeZone::get(zone_name).map_err(|_| AtError::UnknownZone {
            text: text.to_owned(),
            zone: zone_name.to_owned(),
        })?;
        return local
            .to_zoned(tz)
            .map(|zoned| zoned.timestamp())
            .map_err(|_| AtError::Malformed(text.to_owned()));
    }
    Err(AtError::Malformed(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instant(text: &str) -> Timestamp {
        text.parse()
            .unwrap_or_else(|error| panic!("bad fixture {text}: {error}"))
    }

    #[test]
    fn instants_with_offsets_parse() {
        assert_eq!(
            parse_at("2026-12-04T09:00:00Z"),
            Ok(instant("2026-12-04T09:00:00Z"))
        );
        assert_eq!(
            parse_at("2026-12-04T09:00:00+01:00"),
            Ok(instant("2026-12-04T08:00:00Z"))
        );
    }

    #[test]
    fn local_times_with_zone_names_parse() {
        assert_eq!(
            parse_at("2026-12-04T09:00[Europe/Berlin]"),
            Ok(instant("2026-12-04T08:00:00Z"))
        );
        assert_eq!(
            parse_at("2026-07-04 09:00 Europe/Berlin"),
            Ok(instant("2026-07-04T07:00:00Z"))
        );
    }

    #[test]
    fn times_without_zone_and_garbage_are_refused() {
        assert!(matches!(
            parse_at("2026-12-04T09:00"),
            Err(AtError::NoZone(_))
        ));
        assert!(matches!(
            parse_at("2026-12-04 09:00"),
            Err(AtError::NoZone(_))
        ));
        assert!(matches!(
            parse_at("2026-12-04 09:00 Mars/Olympus"),
            Err(AtError::UnknownZone { .. })
        ));
        assert!(matches!(parse_at("tomorrow"), Err(AtError::Malformed(_))));
        assert!(matches!(
            parse_at("2026-13-40T09:00:00Z"),
            Err(AtError::Malformed(_))
        ));
    }
}

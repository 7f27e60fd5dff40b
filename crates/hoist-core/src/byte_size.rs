//! Byte sizes with units, as the spec's `log_max` takes them: `10MB`, `512KB`, `1GiB`,
//! `4096`. Every unit counts in powers of 1024 (`KB` = `KiB` = 1024 bytes), the way
//! journald and docker read log sizes; letters may be in any case.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid size `{0}`")]
pub struct ByteSizeError(pub String);

impl ByteSizeError {
    pub fn hint(&self) -> &'static str {
        "write a number with a unit, `B`, `KB`, `MB` or `GB` (powers of 1024), e.g. `10MB` or `512KB`"
    }
}

const UNITS: [(&str, u32); 5] = [("", 0), ("K", 1), ("M", 2), ("G", 3), ("T", 4)];

/// Parses `<number>[ ]<unit>`, where the unit is one of `B`, `K`/`KB`/`KiB`, `M`/`MB`/`MiB`,
/// `G`/`GB`/`GiB`, `T`/`TB`/`TiB`, or none (bytes).
pub fn parse_byte_size(text: &str) -> Result<u64, ByteSizeError> {
    let fail = || ByteSizeError(text.to_owned());
    let trimmed = text.trim();
    let digits = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    if digits == 0 {
        return Err(fail());
    }
    let number: u64 = trimmed[..digits].parse().map_err(|_| fail())?;
    let unit = trimmed[digits..].trim_start().to_ascii_uppercase();
    let prefix = unit
        .strip_suffix("IB")
        .filter(|prefix| !prefix.is_empty())
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(&unit);
    let power = UNITS
        .iter()
        .find(|(name, _)| *name == prefix)
        .map(|(_, power)| *power)
        .ok_or_else(fail)?;
    number.checked_mul(1024_u64.pow(power)).ok_or_else(fail)
}

/// Formats a size the way `parse_byte_size` reads it, in the largest unit that divides it
/// exactly: `10MB`, `1536KB`, `100B`.
pub fn format_byte_size(bytes: u64) -> String {
    let (name, power) = UNITS
        .iter()
        .rev()
        .find(|(_, power)| bytes != 0 && bytes.is_multiple_of(1024_u64.pow(*power)))
        .copied()
        .unwrap_or(("", 0));
    format!("{}{name}B", bytes / 1024_u64.pow(power))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_units_in_powers_of_1024() {
        assert_eq!(parse_byte_size("10MB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_byte_size("10MiB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_byte_size("10m"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_byte_size("512 KB"), Ok(512 * 1024));
        assert_eq!(parse_byte_size("1GB"), Ok(1 << 30));
        assert_eq!(parse_byte_size("2TiB"), Ok(2 << 40));
        assert_eq!(parse_byte_size("4096"), Ok(4096));
        assert_eq!(parse_byte_size("100B"), Ok(100));
        assert_eq!(parse_byte_size(" 7kb "), Ok(7 * 1024));
    }

    #[test]
    fn refuses_what_is_not_a_size() {
        for text in [
            "",
            "MB",
            "10XB",
            "-1MB",
            "1.5MB",
            "10 M B",
            "10iB",
            "10MBs",
            "99999999999TB",
        ] {
            assert_eq!(parse_byte_size(text), Err(ByteSizeError(text.to_owned())));
        }
    }

    #[test]
    fn formats_in_the_largest_exact_unit() {
        assert_eq!(format_byte_size(10 * 1024 * 1024), "10MB");
        assert_eq!(format_byte_size(1536 * 1024), "1536KB");
        assert_eq!(format_byte_size(100), "100B");
        assert_eq!(format_byte_size(0), "0B");
        assert_eq!(format_byte_size(3 << 30), "3GB");
    }

    proptest! {
        #[test]
        fn format_and_parse_round_trip(bytes in any::<u64>()) {
            prop_assert_eq!(parse_byte_size(&format_byte_size(bytes)), Ok(bytes));
        }
    }
}

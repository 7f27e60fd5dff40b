//! How values are written to and read from columns: timestamps as INTEGER milliseconds,
//! enums and names as their text, structured values as JSON text. A value the binary cannot
//! read back (a hand-edited row, an unknown enum name) is a conversion error naming the column.
//!
//! Timestamps keep millisecond precision: writing truncates toward zero (what
//! `Timestamp::as_millisecond` does), so a timestamp with whole milliseconds reads back
//! exactly and a finer one reads back truncated.

use std::str::FromStr;

use hoist_core::ReleaseStatus;
use jiff::Timestamp;
use rusqlite::Row;
use rusqlite::types::FromSql;
use serde::Serialize;
use serde::de::DeserializeOwned;

type BoxedError = Box<dyn std::error::Error + Send + Sync>;

pub(super) fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

/// `at` as it reads back from the store.
pub(super) fn at_store_precision(at: Timestamp) -> rusqlite::Result<Timestamp> {
    Timestamp::from_millisecond(millis(at))
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))
}

pub(super) fn optional_millis(at: Option<Timestamp>) -> Option<i64> {
    at.map(millis)
}

/// An unsigned count as SQLite's signed INTEGER.
pub(super) fn to_signed(value: u64) -> rusqlite::Result<i64> {
    i64::try_from(value).map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))
}

pub(super) fn unsigned(row: &Row<'_>, index: usize) -> rusqlite::Result<u64> {
    column(row, index, |value: i64| u64::try_from(value))
}

pub(super) fn to_json<T: Serialize + ?Sized>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value)
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))
}

pub(super) fn to_optional_json<T: Serialize>(
    value: Option<&T>,
) -> rusqlite::Result<Option<String>> {
    value.map(to_json).transpose()
}

/// The stored name of a release status (core gives it no `as_str`; its serde name is the one
/// `release.json` uses, so the store uses it too).
pub(super) fn release_status_name(status: ReleaseStatus) -> rusqlite::Result<String> {
    match serde_json::to_value(status) {
        Ok(serde_json::Value::String(name)) => Ok(name),
        Ok(other) => Err(rusqlite::Error::ToSqlConversionFailure(
            format!("release status serialized as `{other}`").into(),
        )),
        Err(error) => Err(rusqlite::Error::ToSqlConversionFailure(Box::new(error))),
    }
}

/// Reads column `index` as `S` and converts it, turning a failed conversion into an error
/// that names the column.
fn column<S, T, E>(
    row: &Row<'_>,
    index: usize,
    convert: impl FnOnce(S) -> Result<T, E>,
) -> rusqlite::Result<T>
where
    S: FromSql,
    E: Into<BoxedError>,
{
    let data_type = row.get_ref(index)?.data_type();
    let value: S = row.get(index)?;
    convert(value)
        .map_err(|error| rusqlite::Error::FromSqlConversionFailure(index, data_type, error.into()))
}

pub(super) fn timestamp(row: &Row<'_>, index: usize) -> rusqlite::Result<Timestamp> {
    column(row, index, Timestamp::from_millisecond)
}

pub(super) fn optional_timestamp(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<Timestamp>> {
    column(row, index, |value: Option<i64>| {
        value.map(Timestamp::from_millisecond).transpose()
    })
}

/// A column holding a name that parses into `T` (`EnvName`, `CommandStatus`, …).
pub(super) fn parsed<T>(row: &Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T: FromStr,
    T::Err: Into<BoxedError>,
{
    column(row, index, |text: String| text.parse::<T>())
}

pub(super) fn optional_parsed<T>(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<T>>
where
    T: FromStr,
    T::Err: Into<BoxedError>,
{
    column(row, index, |text: Option<String>| {
        text.map(|text| text.parse::<T>()).transpose()
    })
}

pub(super) fn json<T: DeserializeOwned>(row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    column(row, index, |text: String| serde_json::from_str::<T>(&text))
}

pub(super) fn optional_json<T: DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<T>> {
    column(row, index, |text: Option<String>| {
        text.map(|text| serde_json::from_str::<T>(&text))
            .transpose()
    })
}

pub(super) fn release_status(row: &Row<'_>, index: usize) -> rusqlite::Result<ReleaseStatus> {
    column(row, index, |name: String| {
        serde_json::from_value::<ReleaseStatus>(serde_json::Value::String(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn release_status_names_are_the_lowercase_words() -> TestResult {
        let names: Vec<String> = [
            ReleaseStatus::Uploading,
            ReleaseStatus::Ready,
            ReleaseStatus::Live,
            ReleaseStatus::Failed,
            ReleaseStatus::Retired,
        ]
        .into_iter()
        .map(release_status_name)
        .collect::<rusqlite::Result<_>>()?;
        assert_eq!(names, ["uploading", "ready", "live", "failed", "retired"]);
        Ok(())
    }

    #[test]
    fn millis_truncate_sub_millisecond_parts() -> TestResult {
        let at = Timestamp::new(1_700_000_000, 123_999_999)?;
        assert_eq!(millis(at), 1_700_000_000_123);
        assert_eq!(
            at_store_precision(at)?,
            Timestamp::new(1_700_000_000, 123_000_000)?
        );
        let before_epoch = Timestamp::new(-5, -123_456_789)?;
        assert_eq!(millis(before_epoch), -5_123);
        Ok(())
    }
}

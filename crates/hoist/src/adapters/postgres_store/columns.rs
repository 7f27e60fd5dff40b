//! How values are written to and read from columns — the SQLite store's conventions, so the
//! two stores hold the same data: timestamps as BIGINT milliseconds since the Unix epoch
//! (truncated toward zero, like `Timestamp::as_millisecond`), enums and names as their text,
//! holders and arguments as JSON text. A value the binary cannot read back (a hand-edited
//! row, an unknown enum name) is an `Unreadable` failure naming the column.

use std::str::FromStr;

use hoist_core::ReleaseStatus;
use jiff::Timestamp;
use postgres::Row;
use postgres::types::FromSql;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Failure, Outcome};

type BoxedError = Box<dyn std::error::Error + Send + Sync>;

fn unreadable(column: &str, error: impl Into<BoxedError>) -> Failure {
    Failure::Unreadable {
        column: column.to_owned(),
        error: error.into(),
    }
}

pub(super) fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

/// `at` as it reads back from the store.
pub(super) fn at_store_precision(at: Timestamp) -> Outcome<Timestamp> {
    Timestamp::from_millisecond(millis(at)).map_err(|error| unreadable("at", error))
}

pub(super) fn optional_millis(at: Option<Timestamp>) -> Option<i64> {
    at.map(millis)
}

/// An unsigned count as PostgreSQL's signed BIGINT.
pub(super) fn to_signed(column: &str, value: u64) -> Outcome<i64> {
    i64::try_from(value).map_err(|error| unreadable(column, error))
}

pub(super) fn to_json<T: Serialize + ?Sized>(column: &str, value: &T) -> Outcome<String> {
    serde_json::to_string(value).map_err(|error| unreadable(column, error))
}

pub(super) fn to_optional_json<T: Serialize>(
    column: &str,
    value: Option<&T>,
) -> Outcome<Option<String>> {
    value.map(|value| to_json(column, value)).transpose()
}

/// The stored name of a release status: its serde name, the one `release.json` uses.
pub(super) fn release_status_name(status: ReleaseStatus) -> Outcome<String> {
    match serde_json::to_value(status) {
        Ok(serde_json::Value::String(name)) => Ok(name),
        Ok(other) => Err(unreadable(
            "status",
            format!("release status serialized as `{other}`"),
        )),
        Err(error) => Err(unreadable("status", error)),
    }
}

/// Reads `column` as `S` and converts it, turning a failed conversion into a failure that
/// names the column.
fn column<'a, S, T, E>(
    row: &'a Row,
    column: &str,
    convert: impl FnOnce(S) -> Result<T, E>,
) -> Outcome<T>
where
    S: FromSql<'a>,
    E: Into<BoxedError>,
{
    let value: S = row.try_get(column)?;
    convert(value).map_err(|error| unreadable(column, error))
}

/// A column read as stored, with no conversion.
pub(super) fn value<'a, T: FromSql<'a>>(row: &'a Row, name: &str) -> Outcome<T> {
    Ok(row.try_get(name)?)
}

pub(super) fn timestamp(row: &Row, name: &str) -> Outcome<Timestamp> {
    column(row, name, Timestamp::from_millisecond)
}

pub(super) fn optional_timestamp(row: &Row, name: &str) -> Outcome<Option<Timestamp>> {
    column(row, name, |value: Option<i64>| {
        value.map(Timestamp::from_millisecond).transpose()
    })
}

/// A BIGINT column holding a number of a narrower unsigned type (a pid, a port, a duration).
pub(super) fn number<T>(row: &Row, name: &str) -> Outcome<T>
where
    T: TryFrom<i64>,
    T::Error: Into<BoxedError>,
{
    column(row, name, T::try_from)
}

/// A nullable BIGINT column holding a number of a narrower type (an HTTP status).
pub(super) fn optional_number<T>(row: &Row, name: &str) -> Outcome<Option<T>>
where
    T: TryFrom<i64>,
    T::Error: Into<BoxedError>,
{
    column(row, name, |value: Option<i64>| {
        value.map(T::try_from).transpose()
    })
}

/// A column holding a name that parses into `T` (`EnvName`, `CommandStatus`, …).
pub(super) fn parsed<T>(row: &Row, name: &str) -> Outcome<T>
where
    T: FromStr,
    T::Err: Into<BoxedError>,
{
    column(row, name, |text: &str| text.parse::<T>())
}

pub(super) fn optional_parsed<T>(row: &Row, name: &str) -> Outcome<Option<T>>
where
    T: FromStr,
    T::Err: Into<BoxedError>,
{
    column(row, name, |text: Option<&str>| {
        text.map(str::parse::<T>).transpose()
    })
}

pub(super) fn json<T: DeserializeOwned>(row: &Row, name: &str) -> Outcome<T> {
    column(row, name, |text: &str| serde_json::from_str::<T>(text))
}

pub(super) fn optional_json<T: DeserializeOwned>(row: &Row, name: &str) -> Outcome<Option<T>> {
    column(row, name, |text: Option<&str>| {
        text.map(serde_json::from_str::<T>).transpose()
    })
}

pub(super) fn release_status(row: &Row, name: &str) -> Outcome<ReleaseStatus> {
    column(row, name, |text: &str| {
        serde_json::from_value::<ReleaseStatus>(serde_json::Value::String(text.to_owned()))
    })
}

/// A filter's limit as PostgreSQL reads `LIMIT`: 0 means no limit, which is `LIMIT NULL`.
pub(super) fn sql_limit(limit: usize) -> Option<i64> {
    match limit {
        0 => None,
        limit => Some(i64::try_from(limit).unwrap_or(i64::MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_status_names_match_the_sqlite_store() -> Result<(), String> {
        let names: Vec<String> = [
            ReleaseStatus::Uploading,
            ReleaseStatus::Ready,
            ReleaseStatus::Live,
            ReleaseStatus::Failed,
            ReleaseStatus::Retired,
        ]
        .into_iter()
        .map(|status| release_status_name(status).map_err(|_| format!("{status:?}")))
        .collect::<Result<_, _>>()?;
        assert_eq!(names, ["uploading", "ready", "live", "failed", "retired"]);
        Ok(())
    }

    #[test]
    fn zero_means_no_limit() {
        assert_eq!(sql_limit(0), None);
        assert_eq!(sql_limit(25), Some(25));
    }
}

//! What became of one request: an HTTP status, or the kind of failure that kept it from
//! getting one. Failures are sorted into a few kinds so a load test can tell a refused
//! connection (nothing listening) from a reset one (something died mid-request).

use std::error::Error as StdError;
use std::fmt;
use std::io;

use serde::Serialize;

/// Why a request got no (complete) response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The TCP connection could not be made (refused, unreachable).
    Connect,
    /// The connection was closed or reset before the whole response arrived.
    Reset,
    /// No whole response within the per-request timeout.
    Timeout,
    /// Anything else, e.g. a response that is not HTTP.
    Other,
}

impl ErrorKind {
    pub const ALL: [Self; 4] = [Self::Connect, Self::Reset, Self::Timeout, Self::Other];

    pub fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Reset => "reset",
            Self::Timeout => "timeout",
            Self::Other => "other",
        }
    }

    /// Sorts a failure of an established connection by looking through its causes, because
    /// hyper wraps the I/O error that says what really happened.
    pub fn of_request_failure(error: &hyper::Error) -> Self {
        if error.is_incomplete_message() || error.is_canceled() || error.is_closed() {
            return Self::Reset;
        }
        let mut source: Option<&(dyn StdError + 'static)> = error.source();
        while let Some(cause) = source {
            if let Some(io_error) = cause.downcast_ref::<io::Error>() {
                return Self::of_io_failure(io_error);
            }
            source = cause.source();
        }
        Self::Other
    }

    /// Sorts an I/O failure on an established connection.
    pub fn of_io_failure(error: &io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected => Self::Reset,
            io::ErrorKind::TimedOut => Self::Timeout,
            _ => Self::Other,
        }
    }
}

/// The outcome column of one CSV row: the status code, or the error kind's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    Failed(ErrorKind),
}

impl Outcome {
    pub fn is_success(self) -> bool {
        matches!(self, Self::Status(status) if (200..300).contains(&status))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => write!(formatter, "{status}"),
            Self::Failed(kind) => formatter.write_str(kind.name()),
        }
    }
}

/// One request as measured: when it started, how long until it ended, how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub start_unix_ns: u128,
    pub latency_us: u64,
    pub outcome: Outcome,
}

impl Record {
    pub const CSV_HEADER: &'static str = "start_unix_ns,latency_us,status_or_error";

    pub fn csv_row(&self) -> String {
        format!(
            "{},{},{}",
            self.start_unix_ns, self.latency_us, self.outcome
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_row_names_the_status_or_the_error_kind() {
        let answered = Record {
            start_unix_ns: 1_700_000_000_123_456_789,
            latency_us: 250,
            outcome: Outcome::Status(503),
        };
        assert_eq!(answered.csv_row(), "1700000000123456789,250,503");
        let refused = Record {
            outcome: Outcome::Failed(ErrorKind::Connect),
            ..answered
        };
        assert_eq!(refused.csv_row(), "1700000000123456789,250,connect");
        let kinds: Vec<String> = ErrorKind::ALL
            .iter()
            .map(|k| Outcome::Failed(*k).to_string())
            .collect();
        assert_eq!(kinds, ["connect", "reset", "timeout", "other"]);
        assert_eq!(
            Record::CSV_HEADER.split(',').count(),
            answered.csv_row().split(',').count()
        );
    }

    #[test]
    fn only_2xx_is_success() {
        assert!(Outcome::Status(200).is_success());
        assert!(Outcome::Status(299).is_success());
        assert!(!Outcome::Status(199).is_success());
        assert!(!Outcome::Status(300).is_success());
        assert!(!Outcome::Status(502).is_success());
        assert!(!Outcome::Failed(ErrorKind::Timeout).is_success());
    }

    #[test]
    fn io_failures_of_a_dying_peer_count_as_resets() {
        let kind = |k: io::ErrorKind| ErrorKind::of_io_failure(&io::Error::from(k));
        assert_eq!(kind(io::ErrorKind::ConnectionReset), ErrorKind::Reset);
        assert_eq!(kind(io::ErrorKind::BrokenPipe), ErrorKind::Reset);
        assert_eq!(kind(io::ErrorKind::UnexpectedEof), ErrorKind::Reset);
        assert_eq!(kind(io::ErrorKind::TimedOut), ErrorKind::Timeout);
        assert_eq!(kind(io::ErrorKind::InvalidData), ErrorKind::Other);
    }
}

//! Reading a host's service logs (`Host::service_logs`) and running a one-off command in its
//! live release (`Host::exec_live`): the question, the page of lines, and the cursor that
//! says where to continue — across rotations — when following.

use hoist_core::log_line::LogStream;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Which lines of a deploy root's service logs (`logs/*.log*`, not the proxy's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    /// Only lines at or after this time.
    pub since: Option<Timestamp>,
    /// Only lines whose text matches this regular expression.
    pub grep: Option<String>,
    /// Without a cursor: only the last this many matching lines (then the page ends at the
    /// end of the logs). `None`: every matching line, a page at a time.
    pub lines: Option<usize>,
    /// Continue after what an earlier page returned.
    pub cursor: Option<LogCursor>,
    /// Also return a last line that has no line break yet (it is returned again, whole, once
    /// it has one: followers leave this off).
    pub partial: bool,
}

/// What `service_logs` answers: lines in time order, and where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPage {
    pub lines: Vec<ServiceLogLine>,
    pub cursor: LogCursor,
    /// There is more to read now: ask again with `cursor`.
    pub more: bool,
}

/// One line of a service log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceLogLine {
    pub at: Timestamp,
    pub stream: LogStream,
    /// The log it is in: the release id for `logs/<release>.log`.
    pub log: String,
    pub text: String,
}

/// Where a reader stands in each log of a root. Opaque to the controller: it only hands it
/// back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCursor {
    pub logs: Vec<LogPosition>,
}

/// A place in one log: a file by identity (so a rotation that renamed it does not lose the
/// place) and the offset after the last line read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPosition {
    pub log: String,
    pub device: u64,
    pub inode: u64,
    pub offset: u64,
    /// The time of the last line read, which an untimed line after it takes.
    pub last_at: Option<Timestamp>,
}

/// Which output of a command a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecStream {
    Stdout,
    Stderr,
}

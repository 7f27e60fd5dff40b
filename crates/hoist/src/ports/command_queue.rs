//! The queue of scheduled commands, shared by every controller (`hoist serve`) on one
//! store: claims so each command runs once, the conditional changes `cancel` and
//! `reschedule` make (first writer wins), and the controllers' registry, which tells the
//! CLI whether anyone will run what it schedules and how to wake them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ports::command_record::CommandRecord;
use crate::ports::host::LockHolder;

/// A change to a command that has not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduledChange {
    Cancel,
    Reschedule {
        execute_at: Timestamp,
        expires_at: Timestamp,
    },
}

/// What `change_scheduled` did.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeOutcome {
    Changed(CommandRecord),
    /// It had already left `scheduled` (started, ended, cancelled): unchanged, as it is now.
    NotScheduled(CommandRecord),
    Missing,
}

/// A running `hoist serve`, as it announces itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControllerRecord {
    /// `machine:pid:start`, unique per process.
    pub id: String,
    pub machine: String,
    pub pid: u32,
    /// The API's address, if it serves one.
    pub listen: Option<String>,
    /// A loopback UDP address a datagram to which wakes its scheduler.
    pub wake: Option<String>,
    pub started_at: Timestamp,
    /// Renewed while it runs; a controller not seen for a while is gone.
    pub seen_at: Timestamp,
}

pub trait CommandQueue {
    /// Cancels or reschedules command `id` only while it is `scheduled`: a command that has
    /// started (or ended) is left alone. A reschedule also drops any claim on it.
    fn change_scheduled(
        &self,
        id: i64,
        change: ScheduledChange,
        now: Timestamp,
    ) -> Result<ChangeOutcome>;

    /// Claims for `controller`, until `until`, at most `limit` commands: `scheduled` ones
    /// whose time has come (overdue ones too: the caller expires them) and no live claim
    /// holds, and `running` or `interrupted` ones whose claim ran out (their controller
    /// died, or shut down before they finished). Atomic across
    /// controllers: a command is handed to one of them.
    fn claim_due(
        &self,
        controller: &str,
        now: Timestamp,
        until: Timestamp,
        limit: usize,
    ) -> Result<Vec<CommandRecord>>;

    /// Moves a command this controller claimed from `scheduled` or `interrupted` to
    /// `running` with `runner`; `None` if it is no longer its to start (cancelled,
    /// rescheduled, claimed by another).
    fn start_claimed(
        &self,
        id: i64,
        controller: &str,
        runner: &LockHolder,
        now: Timestamp,
    ) -> Result<Option<CommandRecord>>;

    /// Extends the claims `controller` still holds on `ids`; returns the ids it no longer holds.
    fn renew_claims(&self, controller: &str, ids: &[i64], until: Timestamp) -> Result<Vec<i64>>;

    /// The earliest time something becomes claimable: a scheduled command's `execute_at`
    /// or a claim's end.
    fn next_due(&self) -> Result<Option<Timestamp>>;

    /// Inserts or refreshes (by id) a controller's record.
    fn save_controller(&self, controller: &ControllerRecord) -> Result<()>;
    fn controllers(&self) -> Result<Vec<ControllerRecord>>;
    fn forget_controller(&self, id: &str) -> Result<()>;

    /// Calls `on_change` from a thread of its own whenever any process changes the queue,
    /// for as long as this process lives; false if the store cannot tell (SQLite: the CLI
    /// wakes controllers on this machine by datagram instead).
    fn watch_queue(&self, on_change: Box<dyn Fn() + Send>) -> Result<bool> {
        drop(on_change);
        Ok(false)
    }

    /// Tells the store this process runs long (a controller): it may move housekeeping
    /// off the path of each write (SQLite: WAL checkpoints, which flush the database file to
    /// disk and would stall the write that triggers them, run on a thread of their own).
    fn serve_long_running(&self) -> Result<()> {
        Ok(())
    }
}

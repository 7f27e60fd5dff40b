//! A command as the store records it: what was asked, by whom, when it runs, and how each
//! step went. Shared by the store and the queue of scheduled commands.

use hoist_core::{Action, CommandStatus, EnvName};
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ports::host::LockHolder;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCommand {
    pub kind: Action,
    pub env: EnvName,
    /// The invocation's arguments (never secret values).
    pub args: serde_json::Value,
    pub requested_by: String,
    pub status: CommandStatus,
    pub execute_at: Option<Timestamp>,
    /// A scheduled command not started by then ends `expired`.
    pub expires_at: Option<Timestamp>,
    /// The API token it was asked with (`None`: the local user), checked again at run time.
    pub requested_token: Option<i64>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CommandRecord {
    pub id: i64,
    pub kind: Action,
    pub env: EnvName,
    /// The invocation's arguments (never secret values); a scheduled command's are its
    /// `CommandRequest`.
    pub args: serde_json::Value,
    pub requested_by: String,
    pub status: CommandStatus,
    pub created_at: Timestamp,
    pub execute_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub requested_token: Option<i64>,
    /// The controller (`hoist serve`) that claimed it, and until when its claim holds
    /// unless renewed.
    pub claimed_by: Option<String>,
    pub claim_until: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub error: Option<String>,
    /// Who runs it, while it runs: to tell a crashed runner from a live one.
    pub runner: Option<LockHolder>,
    pub steps: Vec<StepLogEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepLogEntry {
    pub step: String,
    pub ok: bool,
    pub started_at: Timestamp,
    pub elapsed_ms: u64,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandFilter {
    pub env: Option<EnvName>,
    pub status: Option<CommandStatus>,
    /// Newest first, at most this many (0: no limit).
    pub limit: usize,
}

//! The state store: what was asked (commands), what the controller believes (environments,
//! releases), and the audit timeline (events). SQLite (the embedded default) and PostgreSQL
//! implement it; `adapters::store_contract` holds what both must do.

use std::time::Duration;

use hoist_core::{
    CommandStatus, EnvName, EnvState, HostAddress, ReleaseId, ReleaseStatus, SshDestination, Step,
};
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ports::command_queue::CommandQueue;
pub use crate::ports::command_record::{CommandFilter, CommandRecord, NewCommand, StepLogEntry};
use crate::ports::host::LockHolder;
use crate::ports::runtime::Slot;
use crate::ports::token_store::TokenStore;
use crate::ports::webhook_store::WebhookStore;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentRecord {
    pub name: EnvName,
    pub state: EnvState,
    /// The last failure, cleared when that step later succeeds.
    pub failure: Option<StepFailure>,
    /// The release `live` should point at on every host.
    pub live_release: Option<ReleaseId>,
    /// A release made by `release` and not yet run.
    pub pending_release: Option<ReleaseId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepFailure {
    pub step: Step,
    /// One-line summary; never contains a secret.
    pub error: String,
    pub at: Timestamp,
    pub command_id: Option<i64>,
}

/// A release as the controller recorded it (the host's layout is the truth for what is there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReleaseRecord {
    pub env: EnvName,
    pub id: ReleaseId,
    pub status: ReleaseStatus,
    pub content_hash: String,
    pub config_hash: String,
    pub created_at: Timestamp,
    pub command_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NewEvent {
    pub at: Timestamp,
    pub env: Option<EnvName>,
    pub command_id: Option<i64>,
    /// Dotted kind: `command.started`, `step.failed`, `release.ready`, `env.state`, …
    pub kind: String,
    /// Human-readable; never contains a secret.
    pub message: String,
    pub actor: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Event {
    pub id: i64,
    #[serde(flatten)]
    pub event: NewEvent,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub env: Option<EnvName>,
    pub command_id: Option<i64>,
    /// Only events with an id greater than this (for following).
    pub after_id: Option<i64>,
    /// Only events with an id less than this (for paging back, with `newest`).
    pub before_id: Option<i64>,
    /// At most this many, oldest first (0: no limit).
    pub limit: usize,
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    /// With a limit: the newest `limit` matching events (still returned oldest first).
    pub newest: bool,
}

/// A host an environment has besides the spec's `hosts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredHost {
    pub env: EnvName,
    pub address: HostAddress,
    pub jump: Option<SshDestination>,
    /// `register` (by hand) or `provision` (listed by the provision command).
    pub source: String,
    pub added_at: Timestamp,
}

/// The instance serving one host of an environment, as `run` last recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveInstance {
    pub env: EnvName,
    /// The host's address, as written in the spec.
    pub host: String,
    pub slot: Slot,
    pub release: ReleaseId,
    pub pid: u32,
    pub port: u16,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    Acquired,
    /// Someone holds an unexpired lease.
    Held {
        holder: LockHolder,
        expires_at: Timestamp,
    },
}

pub trait Store: CommandQueue + TokenStore + WebhookStore + Send + Sync {
    fn environment(&self, name: &EnvName) -> Result<Option<EnvironmentRecord>>;
    fn environments(&self) -> Result<Vec<EnvironmentRecord>>;
    /// Inserts or replaces the record with this name.
    fn save_environment(&self, env: &EnvironmentRecord) -> Result<()>;

    fn insert_command(&self, command: &NewCommand) -> Result<CommandRecord>;
    /// Moves a command to `status`, refusing transitions `CommandStatus::can_become` forbids.
    /// Sets `started_at` on `running` (with `runner`), `finished_at` on terminal states.
    fn set_command_status(
        &self,
        id: i64,
        status: CommandStatus,
        runner: Option<&LockHolder>,
        error: Option<&str>,
        at: Timestamp,
    ) -> Result<CommandRecord>;
    fn append_command_step(&self, id: i64, entry: &StepLogEntry) -> Result<()>;
    fn command(&self, id: i64) -> Result<Option<CommandRecord>>;
    fn commands(&self, filter: &CommandFilter) -> Result<Vec<CommandRecord>>;

    /// Takes the environment's lease for `ttl` if nobody holds an unexpired one.
    fn acquire_lease(
        &self,
        env: &EnvName,
        holder: &LockHolder,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<LeaseOutcome>;
    /// Takes the lease over from `stale` (known dead) only if `stale` still holds it.
    fn take_over_lease(
        &self,
        env: &EnvName,
        stale: &LockHolder,
        holder: &LockHolder,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool>;
    /// Extends the lease if `holder` still holds it; false if it was lost.
    fn renew_lease(
        &self,
        env: &EnvName,
        holder: &LockHolder,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool>;
    /// Drops the lease if `holder` holds it.
    fn release_lease(&self, env: &EnvName, holder: &LockHolder) -> Result<()>;

    /// Inserts or updates (by env + id) a release record.
    fn save_release(&self, release: &ReleaseRecord) -> Result<()>;
    fn releases(&self, env: &EnvName) -> Result<Vec<ReleaseRecord>>;

    /// Adds (or updates, by env + address) a host of an environment.
    fn register_host(&self, host: &RegisteredHost) -> Result<()>;
    /// The registered hosts of `env`, oldest first.
    fn registered_hosts(&self, env: &EnvName) -> Result<Vec<RegisteredHost>>;
    /// Forgets a registered host; false if it was not registered.
    fn unregister_host(&self, env: &EnvName, address: &HostAddress) -> Result<bool>;

    /// Records (or replaces, by env + host) the instance serving a host.
    fn save_live_instance(&self, instance: &LiveInstance) -> Result<()>;
    /// The recorded live instances of `env`, by host.
    fn live_instances(&self, env: &EnvName) -> Result<Vec<LiveInstance>>;
    /// Forgets the live instance of one host (`None`: of every host); true if one was known.
    fn forget_live_instance(&self, env: &EnvName, host: Option<&str>) -> Result<bool>;

    fn append_event(&self, event: &NewEvent) -> Result<Event>;
    fn events(&self, filter: &EventFilter) -> Result<Vec<Event>>;
}

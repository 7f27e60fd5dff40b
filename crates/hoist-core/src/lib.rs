//! The pure core of hoist: the spec and its validation, the lifecycle state machine, the
//! release chain, command status transitions. Nothing here does I/O or knows about
//! SQLite, SSH, processes or clocks; callers pass in what the world looks like.

pub mod access;
pub mod byte_size;
pub mod command_status;
pub mod controller_env;
pub mod deploy_plan;
pub mod deploy_root;
pub mod duration;
pub mod env_name;
pub mod host_address;
pub mod host_label;
pub mod lifecycle;
pub mod log_line;
pub mod log_merge;
pub mod release_chain;
pub mod release_id;
pub mod schedule;
pub mod schedule_time;
pub mod secret_mask;
pub mod shell;
pub mod spec;
pub mod supervision;
pub mod webhook_policy;
pub mod webhook_url;

pub use command_status::CommandStatus;
pub use env_name::EnvName;
pub use host_address::{HostAddress, SshDestination};
pub use lifecycle::{Action, EnvState, Step};
pub use release_chain::{ReleaseChain, ReleaseMeta, ReleaseStatus};
pub use release_id::ReleaseId;
pub use spec::Spec;

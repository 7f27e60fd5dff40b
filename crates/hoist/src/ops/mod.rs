//! Ops: one function per operation, over ports and an options struct. They never print
//! (progress goes through the `Progress` port) and never parse arguments.

pub mod check;
pub mod command_request;
pub mod command_run;
pub mod commands;
pub mod config_render;
pub mod configure;
mod container_image;
pub mod context;
pub mod continuation;
mod convergence;
pub mod create;
pub mod deploy;
pub mod destroy;
pub mod environment_lease;
pub mod events;
pub mod exec;
pub mod fleet;
pub mod host_results;
pub mod host_targets;
pub mod infrastructure;
pub mod liveness;
pub mod logs;
pub mod maintenance;
pub mod outcome;
pub mod preflight;
pub mod provision;
pub mod reconcile;
pub mod register;
pub mod release;
pub mod releases;
mod repair;
mod report;
pub mod restart;
pub mod rollback;
pub mod run;
pub mod status;
mod supervision;
pub mod tokens;
pub mod webhooks;

pub use check::{CheckOptions, CheckReport, check};
pub use configure::{ConfigureOptions, configure};
pub use context::{Actor, Context};
pub use create::{CreateOptions, create};
pub use deploy::{DeployOptions, deploy};
pub use destroy::{DestroyOptions, destroy};
pub use maintenance::{MaintenanceOptions, maintenance};
pub use outcome::CommandOutcome;
pub use provision::{ProvisionOptions, provision};
pub use register::{RegisterOptions, register};
pub use release::{ReleaseOptions, release};
pub use releases::{
    ListReleasesOptions, PruneOptions, RemoveReleaseOptions, list_releases, prune, remove_release,
};
pub use restart::{RestartOptions, restart};
pub use rollback::{RollbackOptions, rollback};
pub use run::{RunOptions, run};
pub use status::{StatusOptions, list, status};

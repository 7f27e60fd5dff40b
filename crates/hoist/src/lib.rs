//! hoist: deploy services to hosts you own. Data flows one way:
//! CLI → command (recorded) → ops → ports → adapters → hosts.

pub mod adapters;
pub mod app;
pub mod cli;
pub mod cpu_priority;
pub mod daemon_log;
pub mod error;
pub mod failpoint;
pub mod hostside;
pub mod known_secrets;
pub mod ops;
pub mod ports;
pub mod proxy;
pub mod reconciler;
pub mod scheduler;
pub mod server;
pub mod source_tree;
pub mod webhooks;

pub use error::{Error, ErrorKind, Result};

/// A fingerprint of the sources and settings this binary was built from (`build.rs`): the
/// same in `hoist` and `hoist-host` of one build.
pub const BUILD_ID: &str = env!("HOIST_BUILD_ID");

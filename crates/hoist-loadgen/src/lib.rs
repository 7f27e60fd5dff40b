//! hoist-loadgen: a constant-rate HTTP/1.1 load generator that records every request and
//! counts every failure by kind (for the zero-downtime deploy test), and a minimal fast
//! service (`serve`) to deploy under that load.

pub mod cli;
pub mod connection;
pub mod error;
pub mod outcome;
pub mod run;
pub mod schedule;
pub mod serve;
pub mod summary;

pub use error::{Error, Result};
pub use outcome::{ErrorKind, Outcome, Record};
pub use run::{Report, RunOptions, run};
pub use serve::Server;
pub use summary::Summary;

//! The one integration-test binary: real `hoist` processes on real temp directories, the
//! real example service, real SQLite files.

#![expect(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests and their harness panic on a failed setup step, with the reason"
)]

mod harness;
mod load_loop;
mod testbed;

mod bad_input;
mod blue_green;
mod blue_green_crash;
mod blue_green_fleet;
mod blue_green_nginx;
mod crash;
mod deploy;
mod failures;
mod fleet;
mod health_kinds;
mod hooks_and_config;
mod infrastructure;
mod locking;
mod proxy;
mod remote_protocol;
mod spec_commands;
mod ssh_transport;

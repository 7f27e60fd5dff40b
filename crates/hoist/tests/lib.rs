//! The one integration-test binary: real `hoist` processes on real temp directories, the
//! real example service, real SQLite files.

mod harness;

mod bad_input;
mod crash;
mod deploy;
mod failures;
mod locking;
mod spec_commands;

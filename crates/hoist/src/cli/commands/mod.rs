//! One module per command (or family of tiny ones): build the options, call one op, print.

pub mod check;
pub mod command_list;
pub mod command_source;
pub mod destroy;
pub mod events;
pub mod exec;
pub mod host;
pub mod init;
pub mod lifecycle;
pub mod logs;
pub mod maintenance;
pub mod proxy;
pub mod register;
pub mod releases;
pub mod remote;
pub mod rollback;
pub mod scheduled;
pub mod serve;
pub mod spec;
pub mod status;
pub mod submit;
pub mod tokens;
pub mod webhooks;

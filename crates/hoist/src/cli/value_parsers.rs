//! clap value parsers shared by the argument modules: each turns a core type's parse error
//! into clap's message with its `hint:` line.

use std::time::Duration;

use hoist_core::EnvName;
use hoist_core::duration::parse_duration;

pub(crate) fn env_name(text: &str) -> Result<EnvName, String> {
    text.parse::<EnvName>()
        .map_err(|e| format!("{e}\nhint: {}", e.hint()))
}

pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| format!("{e}\nhint: {}", e.hint()))
}

//! How an environment's SSH hosts are reached: `jump`, `ssh_config`, `identity`,
//! `host_binary`, `connect_timeout` and `ssh_persist` of `[env.NAME]`.

use std::path::PathBuf;
use std::time::Duration;

use super::SshOptions;
use super::defaults;
use super::hosts::jump_host;
use super::problems::Problems;
use super::section::{Section, Text};
use crate::duration::format_duration;

/// Longer than this, a host that does not answer holds up the whole rollout.
pub(super) const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// A connection kept longer than a day is one nobody remembers opening.
pub(super) const MAX_SSH_PERSIST: Duration = Duration::from_secs(24 * 60 * 60);

const LOCAL_PATH_HINT: &str = "write a path relative to the spec's directory, an absolute path, or one in your home directory like `~/.ssh/deploy_ed25519`";

pub(super) fn read_ssh_options(section: &Section<'_>, problems: &mut Problems) -> SshOptions {
    let jump = section
        .field("jump")
        .and_then(|field| field.string(problems))
        .and_then(|text| jump_host(&text, problems));
    let mut path = |key: &str| {
        section
            .field(key)
            .and_then(|field| field.string(problems))
            .and_then(|text| local_path(&text, key, problems))
    };
    let config = path("ssh_config");
    let identity = path("identity");
    let host_binary = path("host_binary");
    let connect_timeout = section
        .field("connect_timeout")
        .and_then(|field| {
            let timeout = field.duration(false, problems)?;
            if timeout > MAX_CONNECT_TIMEOUT {
                problems.error(
                    field.span(),
                    format!(
                        "`connect_timeout` must be at most {}",
                        format_duration(MAX_CONNECT_TIMEOUT)
                    ),
                );
                return None;
            }
            Some(timeout)
        })
        .unwrap_or(defaults::CONNECT_TIMEOUT);
    let persist = section
        .field("ssh_persist")
        .and_then(|field| {
            let persist = field.duration(true, problems)?;
            if persist > MAX_SSH_PERSIST {
                problems.error_with_hint(
                    field.span(),
                    format!(
                        "`ssh_persist` must be at most {}",
                        format_duration(MAX_SSH_PERSIST)
                    ),
                    "connections are reopened in well under a second; `\"0s\"` turns keeping them off",
                );
                return None;
            }
            Some(persist)
        })
        .unwrap_or(defaults::SSH_PERSIST);
    SshOptions {
        jump,
        config,
        identity,
        host_binary,
        connect_timeout,
        persist,
    }
}

/// A path on this machine as written: relative to the spec's directory, absolute, or `~/…`
/// (`~user` is not expanded, so it is refused rather than read as a directory named `~user`).
fn local_path(text: &Text<'_>, key: &str, problems: &mut Problems) -> Option<PathBuf> {
    let value = text.value;
    let problem = if value.is_empty() {
        Some(format!("`{key}` has an empty path"))
    } else if value.contains('\0') {
        Some(format!("`{key}` contains a NUL character"))
    } else if value.starts_with('~') && !value.starts_with("~/") {
        Some(format!(
            "path `{value}` in `{key}` must start with `~/` to be in your home directory"
        ))
    } else {
        None
    };
    match problem {
        Some(message) => {
            problems.error_with_hint(text.span.clone(), message, LOCAL_PATH_HINT);
            None
        }
        None => Some(PathBuf::from(value)),
    }
}

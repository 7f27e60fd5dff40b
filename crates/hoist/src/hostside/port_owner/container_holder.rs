//! A container instance's port is not held by its group: the engine's own monitor (podman's
//! conmon, outside hoist's group) holds a published port, and with host networking the app
//! holds it as conmon's descendant. Either way the container's name ties the holder to the
//! instance: the monitor leading the group carries the instance mark, the mark names the
//! container (`hoist-<root id>-<slot>`), and conmon is started with `-n <name>`.

use std::fs;

use crate::hostside::container_engine::container_name;
use crate::hostside::process_runtime::COMPOSE_PROJECT_MARK;
use crate::hostside::root_id::INSTANCE_MARK;
use crate::ports::runtime::Slot;

/// How far up from the holder conmon is looked for.
const MAX_ANCESTORS: usize = 16;

/// Whether `holder` is the engine monitor of the container that `group`'s instance runs, or
/// a process under it.
pub(super) fn serves_container_of(holder: u32, group: u32) -> bool {
    let Some(containers) = container_of_group(group) else {
        return false;
    };
    let mut pid = holder;
    for _ in 0..MAX_ANCESTORS {
        if monitors_container(pid, &containers) {
            return true;
        }
        match parent(pid) {
            Some(next) if next > 1 => pid = next,
            _ => return false,
        }
    }
    false
}

/// The containers the instance led by `group` runs, from its leader's environment: a compose
/// project's, or the one container its mark names.
fn container_of_group(group: u32) -> Option<Containers> {
    let environ = fs::read(format!("/proc/{group}/environ")).ok()?;
    let variables: Vec<&str> = environ
        .split(|&byte| byte == 0)
        .filter_map(|variable| std::str::from_utf8(variable).ok())
        .collect();
    let project = format!("{COMPOSE_PROJECT_MARK}=");
    if let Some(project) = variables.iter().find_map(|v| v.strip_prefix(&project)) {
        return Some(Containers::Project(project.to_owned()));
    }
    let prefix = format!("{INSTANCE_MARK}=");
    variables.iter().find_map(|variable| {
        let mark = variable.strip_prefix(&prefix)?;
        let (root_id, slot) = mark.rsplit_once(':')?;
        Some(Containers::Named(container_name(
            root_id,
            slot.parse::<Slot>().ok()?,
        )))
    })
}

enum Containers {
    Named(String),
    /// `<project>_<service>_<n>` or `<project>-<service>-<n>`.
    Project(String),
}

impl Containers {
    fn includes(&self, name: &[u8]) -> bool {
        match self {
            Self::Named(own) => name == own.as_bytes(),
            Self::Project(project) => name
                .strip_prefix(project.as_bytes())
                .is_some_and(|rest| rest.first().is_some_and(|&c| c == b'_' || c == b'-')),
        }
    }
}

/// `pid` is conmon started for one of `containers`.
fn monitors_container(pid: u32, containers: &Containers) -> bool {
    let Ok(raw) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = raw.split(|&byte| byte == 0).collect();
    let is_conmon = args
        .first()
        .is_some_and(|program| program.rsplit(|&b| b == b'/').next() == Some(b"conmon"));
    is_conmon
        && args
            .windows(2)
            .any(|pair| (pair[0] == b"-n" || pair[0] == b"--name") && containers.includes(pair[1]))
}

/// The parent of `pid` (`/proc/PID/stat` field 4).
fn parent(pid: u32) -> Option<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &text[text.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

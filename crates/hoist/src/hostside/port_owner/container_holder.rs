//! A container instance's port is not held by its group: the engine's own monitor (podman's
//! conmon, outside hoist's group) holds a published port, and with host networking the app
//! holds it as conmon's descendant. Either way the container's name ties the holder to the
//! instance: the monitor leading the group carries the instance mark, the mark names the
//! container (`hoist-<root id>-<slot>`), and conmon is started with `-n <name>`.

use std::fs;

use crate::hostside::container_engine::container_name;
use crate::hostside::root_id::INSTANCE_MARK;
use crate::ports::runtime::Slot;

/// How far up from the holder conmon is looked for.
const MAX_ANCESTORS: usize = 16;

/// Whether `holder` is the engine monitor of the container that `group`'s instance runs, or
/// a process under it.
pub(super) fn serves_container_of(holder: u32, group: u32) -> bool {
    let Some(name) = container_of_group(group) else {
        return false;
    };
    let mut pid = holder;
    for _ in 0..MAX_ANCESTORS {
        if monitors_container(pid, &name) {
            return true;
        }
        match parent(pid) {
            Some(next) if next > 1 => pid = next,
            _ => return false,
        }
    }
    false
}

/// The container the instance led by `group` runs, from the mark in the leader's environment.
fn container_of_group(group: u32) -> Option<String> {
    let environ = fs::read(format!("/proc/{group}/environ")).ok()?;
    let prefix = format!("{INSTANCE_MARK}=");
    environ.split(|&byte| byte == 0).find_map(|variable| {
        let mark = std::str::from_utf8(variable).ok()?.strip_prefix(&prefix)?;
        let (root_id, slot) = mark.rsplit_once(':')?;
        Some(container_name(root_id, slot.parse::<Slot>().ok()?))
    })
}

/// `pid` is conmon started for the container `name`.
fn monitors_container(pid: u32, name: &str) -> bool {
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
            .any(|pair| (pair[0] == b"-n" || pair[0] == b"--name") && pair[1] == name.as_bytes())
}

/// The parent of `pid` (`/proc/PID/stat` field 4).
fn parent(pid: u32) -> Option<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &text[text.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

//! Finding instances no record owns: every instance carries `HOIST_INSTANCE=<root>:<slot>` in
//! its environment, so a scan of `/proc` finds them even when their record was never written
//! (a crash between start and record) or was deleted.

use std::collections::BTreeMap;
use std::fs;

use crate::hostside::proc_identity;
use crate::ports::runtime::{Slot, StrayProcess};

/// The process groups whose members carry one of `marks` (`NAME=value` per slot) and whose
/// group is none of `owned` (the recorded instances' pids, which lead their groups). One entry
/// per group: its leader if alive, else its lowest member.
pub(super) fn find(marks: &[(Slot, String)], owned: &[u32]) -> Vec<StrayProcess> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut groups: BTreeMap<u32, StrayProcess> = BTreeMap::new();
    let pids = entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok());
    for pid in pids {
        let Some(stat) = proc_identity::read(pid) else {
            continue;
        };
        if stat.is_zombie() || owned.contains(&stat.process_group) {
            continue;
        }
        let Some(slot) = marked_slot(pid, marks) else {
            continue;
        };
        let leader = pid == stat.process_group;
        let command = command_line(pid);
        let found = StrayProcess {
            pid: stat.process_group,
            start_ticks: stat.start_ticks,
            slot,
            command: command.clone(),
            container: None,
        };
        groups
            .entry(stat.process_group)
            .and_modify(|known| {
                // The leader names the group; a monitor's service command says more than the
                // monitor's own line, so it stands in as the command.
                if leader {
                    let service = (!is_monitor(&known.command)).then(|| known.command.clone());
                    *known = found.clone();
                    if let (true, Some(service)) = (is_monitor(&command), service) {
                        known.command = service;
                    }
                } else if is_monitor(&known.command) {
                    known.command = command.clone();
                }
            })
            .or_insert(found);
    }
    groups.into_values().collect()
}

/// `hoist host --root R instance --slot S`: the monitor leading an instance's group.
fn is_monitor(command: &str) -> bool {
    command.contains(" host --root ") && command.contains(" instance --slot ")
}

/// The slot whose mark `pid`'s environment holds, exactly.
fn marked_slot(pid: u32, marks: &[(Slot, String)]) -> Option<Slot> {
    let environ = fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ.split(|&byte| byte == 0).find_map(|variable| {
        marks
            .iter()
            .find(|(_, mark)| variable == mark.as_bytes())
            .map(|(slot, _)| *slot)
    })
}

fn command_line(pid: u32) -> String {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<String> = raw
        .split(|&byte| byte == 0)
        .filter(|word| !word.is_empty())
        .map(|word| String::from_utf8_lossy(word).into_owned())
        .collect();
    words.join(" ")
}

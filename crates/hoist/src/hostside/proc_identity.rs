//! What `/proc` says about a process: its state, process group and start time. A pid alone
//! can be reused; pid plus start time (`/proc/PID/stat` field 22) names one process for good.

use std::fs;

/// The fields of `/proc/PID/stat` hoist needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessStat {
    /// `R`, `S`, `D`, `Z` (zombie), `T`, …
    pub state: char,
    pub process_group: u32,
    /// Clock ticks after boot at which the process started.
    pub start_ticks: u64,
}

impl ProcessStat {
    /// A zombie has exited; it only waits for its parent to reap it.
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// Reads `/proc/PID/stat`; `None` when there is no such process.
pub fn read(pid: u32) -> Option<ProcessStat> {
    if pid == 0 {
        return None;
    }
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Parses a `/proc/PID/stat` line. Field 2, `(comm)`, may hold spaces and parentheses, so the
/// fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcessStat> {
    let after_comm = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // fields[0] is field 3 (state), fields[2] field 5 (pgrp), fields[19] field 22 (starttime).
    let state = fields.first()?.chars().next()?;
    let process_group = fields.get(2)?.parse().ok()?;
    let start_ticks = fields.get(19)?.parse().ok()?;
    Some(ProcessStat {
        state,
        process_group,
        start_ticks,
    })
}

/// The process exists and has not exited (a zombie counts as exited).
pub fn is_running(pid: u32) -> bool {
    read(pid).is_some_and(|stat| !stat.is_zombie())
}

/// The process `pid` that started at `start_ticks` is still running.
pub fn is_same_running(pid: u32, start_ticks: u64) -> bool {
    read(pid).is_some_and(|stat| !stat.is_zombie() && stat.start_ticks == start_ticks)
}

/// The processes of group `group` that have not exited.
pub fn group_members(group: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            read(pid).is_some_and(|stat| stat.process_group == group && !stat.is_zombie())
        })
        .collect()
}

/// `/proc/PID/cmdline` with its arguments joined by spaces; `None` when there is no such
/// process (a kernel thread's is empty).
pub fn command_line(pid: u32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let words: Vec<String> = raw
        .split(|&byte| byte == 0)
        .filter(|word| !word.is_empty())
        .map(|word| String::from_utf8_lossy(word).into_owned())
        .collect();
    Some(words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_after_the_last_parenthesis() {
        let line = "4121 (we(ird) name)) S 1 4121 4121 0 -1 4194560 95 0 0 0 1 0 0 0 20 0 1 0 \
                    987654 2252800 224 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.state, 'S');
        assert_eq!(stat.process_group, 4121);
        assert_eq!(stat.start_ticks, 987654);
    }

    #[test]
    fn refuses_truncated_lines() {
        assert_eq!(parse_stat("12 (sh) S 1 12"), None);
        assert_eq!(parse_stat("no parenthesis at all"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let stat = read(me).unwrap();
        assert!(!stat.is_zombie());
        assert!(is_same_running(me, stat.start_ticks));
        assert!(!is_same_running(me, stat.start_ticks + 1));
        let group = nix::unistd::getpgrp().as_raw().cast_unsigned();
        assert_eq!(stat.process_group, group);
        assert!(group_members(group).contains(&me));
    }

    #[test]
    fn a_reaped_child_is_not_running() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!is_running(pid));
        assert_eq!(read(0), None);
    }
}

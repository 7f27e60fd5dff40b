//! `nginx -s reload` only signals the master: new workers start, old ones finish their
//! requests and exit, a moment later. A switch is done when the old workers are gone — until
//! then an old worker may still send a request to the old upstream. The workers are found
//! under the master whose command line matches the nginx command hoist runs.

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use crate::hostside::proc_identity;

const POLL: Duration = Duration::from_millis(10);

/// The worker processes (pid, start ticks) of the nginx master `command` names, if exactly
/// one master matches: the one started with its `-c FILE` when there is one, else the one
/// started without `-c`.
pub(super) fn workers(command: &[String]) -> Vec<(u32, u64)> {
    let config = command
        .iter()
        .position(|word| word == "-c")
        .and_then(|index| command.get(index + 1));
    let processes = all_processes();
    let masters: Vec<u32> = processes
        .iter()
        .filter(|(_, _, line)| line.starts_with("nginx: master process"))
        .filter(|(_, _, line)| match config {
            Some(config) => line.contains(config.as_str()),
            None => !line.contains(" -c "),
        })
        .map(|(pid, _, _)| *pid)
        .collect();
    let [master] = masters[..] else {
        return Vec::new();
    };
    processes
        .iter()
        .filter(|(_, parent, line)| *parent == master && line.starts_with("nginx: worker process"))
        .filter_map(|(pid, _, _)| proc_identity::read(*pid).map(|stat| (*pid, stat.start_ticks)))
        .collect()
}

/// Waits until none of `workers` runs any more, at most `limit`; true if they all went.
pub(super) fn until_gone(workers: &[(u32, u64)], limit: Duration) -> bool {
    let started = Instant::now();
    loop {
        let left = workers
            .iter()
            .filter(|(pid, ticks)| proc_identity::is_same_running(*pid, *ticks))
            .count();
        if left == 0 {
            return true;
        }
        if started.elapsed() >= limit {
            return false;
        }
        thread::sleep(POLL);
    }
}

/// Every process: pid, parent pid, command line (words joined by spaces).
fn all_processes() -> Vec<(u32, u32, String)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let after = &stat[stat.rfind(')')? + 1..];
            let parent = after.split_whitespace().nth(1)?.parse().ok()?;
            let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let line = raw
                .split(|&byte| byte == 0)
                .filter(|word| !word.is_empty())
                .map(|word| String::from_utf8_lossy(word).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            Some((pid, parent, line))
        })
        .collect()
}

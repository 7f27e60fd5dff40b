//! The real processes of a deploy root, read from `/proc` the way an operator would with
//! `ps`: the instance's monitor (the recorded pid) and its service (the monitor's child in
//! its process group), the supervisor, the proxy; `kill -9` of any of them; bounded waits;
//! and the root's boot entry as cron would run it.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::Test;

/// Polls `probe` every 20 ms until it returns `Some`, panicking with `what` after `limit`.
#[track_caller]
pub fn wait_until<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `(pid, process group)` of every process on the machine (zombies left out: they are dead).
fn processes() -> Vec<(u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid pgrp …`: comm may hold spaces, so split after its `)`.
            let rest = stat.rsplit_once(')')?.1;
            let mut fields = rest.split_whitespace();
            let state = fields.next()?;
            let pgrp = fields.nth(1)?.parse().ok()?;
            (state != "Z" && state != "X").then_some((pid, pgrp))
        })
        .collect()
}

/// Whether `pid` runs (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    processes().iter().any(|(p, _)| *p == pid)
}

/// The live members of process group `group`.
pub fn group_members(group: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, pgrp)| *pgrp == group)
        .map(|(pid, _)| pid)
        .collect()
}

pub fn kill9(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -9 {pid}");
}

/// The root's id (`.hoist/root-id`): what its instance marks and its boot entry name.
pub fn root_id(root: &Path) -> String {
    std::fs::read_to_string(root.join(".hoist").join("root-id"))
        .expect("the root has an id")
        .trim()
        .to_owned()
}

/// Every live process carrying this root's instance mark (`HOIST_INSTANCE=<root id>:…`):
/// monitors and the services they started.
pub fn marked_processes(root: &Path) -> Vec<u32> {
    let mark = format!("HOIST_INSTANCE={}:", root_id(root));
    processes()
        .into_iter()
        .map(|(pid, _)| pid)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|environ| {
                environ
                    .split(|&byte| byte == 0)
                    .any(|entry| entry.starts_with(mark.as_bytes()))
            })
        })
        .collect()
}

/// The process groups this root's marked processes belong to: one per running instance.
pub fn marked_groups(root: &Path) -> BTreeSet<u32> {
    let marked = marked_processes(root);
    processes()
        .into_iter()
        .filter(|(pid, _)| marked.contains(pid))
        .map(|(_, pgrp)| pgrp)
        .collect()
}

/// A JSON record under `run/`, if there is one.
pub fn run_record(root: &Path, name: &str) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(root.join("run").join(name)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The pid a record (`instance.json`, `supervisor.json`, `proxy.json`, …) names.
pub fn recorded_pid(root: &Path, name: &str) -> Option<u32> {
    run_record(root, name)?["pid"]
        .as_u64()
        .and_then(|pid| u32::try_from(pid).ok())
}

/// The service of the instance whose monitor is `monitor`: the other member of its group
/// (`sh -c "exec python3 app.py"` became python).
pub fn service_of(monitor: u32) -> Option<u32> {
    let members: Vec<u32> = group_members(monitor)
        .into_iter()
        .filter(|pid| *pid != monitor)
        .collect();
    match members.as_slice() {
        [service] => Some(*service),
        _ => None,
    }
}

/// The public port answers `GET /` with 200; its body.
pub fn serving(t: &Test) -> Option<String> {
    match t.get("/") {
        Ok((200, body)) => Some(body),
        _ => None,
    }
}

/// `status dev --json`, its first host.
pub fn host_status(t: &Test) -> serde_json::Value {
    let status = t.hoist(&["status", "dev", "--json"]).success().json();
    status["hosts"][0].clone()
}

/// The kinds of `dev`'s events (after a `status`, which moves the host journal in).
pub fn event_kinds(t: &Test) -> Vec<String> {
    t.hoist(&["--json", "events", "dev"])
        .success()
        .stdout
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).expect("an event");
            event["kind"].as_str().expect("a kind").to_owned()
        })
        .collect()
}

/// The command of the root's `@reboot` line in the user's crontab, as cron hands it to
/// `sh -c` (`\%` stands for a literal `%`), the marker comment included.
pub fn boot_line(root: &Path) -> Option<String> {
    let marker = format!("# hoist-boot {}", root_id(root));
    let output = Command::new("crontab").arg("-l").output().ok()?;
    let table = String::from_utf8_lossy(&output.stdout).into_owned();
    table
        .lines()
        .find(|line| line.ends_with(&marker))
        .and_then(|line| line.strip_prefix("@reboot "))
        .map(|command| command.replace("\\%", "%"))
}

/// Runs the boot entry's command exactly as cron would: `sh -c` with cron's small
/// environment, from the home directory, detached from this terminal.
pub fn run_boot_entry(root: &Path) {
    let status = boot_entry_status(root);
    let journal = std::fs::read_to_string(root.join(".hoist/journal.jsonl")).unwrap_or_default();
    let failures: Vec<&str> = journal
        .lines()
        .filter(|line| line.contains("\"boot.failed\""))
        .collect();
    let log = std::fs::read_to_string(root.join("logs/supervisor.log")).unwrap_or_default();
    let log_tail: Vec<&str> = log.lines().rev().take(20).collect();
    assert!(
        status.success(),
        "the boot entry of `{}` failed: {status}; its journal says {failures:#?}; \
         the supervisor's log ends (last line first) {log_tail:#?}",
        root.display()
    );
}

/// Runs the boot entry's command as `run_boot_entry` does; how it exited.
pub fn boot_entry_status(root: &Path) -> std::process::ExitStatus {
    let command = boot_line(root).expect("the root's @reboot line in the crontab");
    let home = std::env::var("HOME").unwrap_or_else(|_| "/".to_owned());
    Command::new("/bin/sh")
        .arg("-c")
        .arg(&command)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("SHELL", "/bin/sh")
        .env("HOME", &home)
        .env("LOGNAME", whoami())
        .current_dir(&home)
        .stdin(std::process::Stdio::null())
        .status()
        .expect("run the boot entry")
}

fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "root".to_owned())
}

/// Removes the root's line from the crontab by hand, as an operator would — under the locks
/// hoist edits the crontab with (the per-uid one in `/tmp`, and the home directory's one older
/// builds take), so a test running beside this one keeps its own line.
pub fn remove_boot_line(root: &Path) {
    let marker = format!("# hoist-boot {}", root_id(root));
    let home = std::env::var("HOME").expect("HOME");
    let home_lock = Path::new(&home).join(".cache/hoist/crontab.lock");
    std::fs::create_dir_all(home_lock.parent().unwrap()).expect("the lock's directory");
    let uid_lock = format!("/tmp/hoist-crontab-{}.lock", nix::unistd::geteuid());
    let script = format!("crontab -l | grep -v -F '{marker}' | crontab -");
    let status = Command::new("flock")
        .arg(&uid_lock)
        .arg("flock")
        .arg(&home_lock)
        .args(["sh", "-c", &script])
        .status()
        .expect("edit the crontab");
    assert!(status.success(), "removing the boot line");
    assert!(boot_line(root).is_none(), "the boot line is gone");
}

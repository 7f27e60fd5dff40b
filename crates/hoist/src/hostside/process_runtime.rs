//! The `process` runtime: hoist starts the service itself with `sh -c`, detached in its own
//! process group, logging to `logs/<release>.log`, and records it in `run/instance.json` with
//! the pid and the process's start time, so a reused pid is never signalled.

mod env_file;
pub(crate) mod log_tail;
mod root_id;
mod strays;
#[cfg(test)]
mod tests;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use hoist_core::ReleaseId;
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, getpgrp};

use crate::error::{Error, Result};
use crate::hostside::layout::Layout;
use crate::hostside::proc_identity;
use crate::ports::runtime::{Instance, InstanceSpec, InstanceState, Runtime, Slot, StrayProcess};

/// How long a new instance must stay up before `start` calls it started.
const STARTUP_CHECK: Duration = Duration::from_millis(100);
const POLL: Duration = Duration::from_millis(20);
/// How long to wait for a SIGKILLed group to vanish before calling it stuck.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// How long children left behind by a dead instance get between SIGTERM and SIGKILL.
const STRAGGLER_GRACE: Duration = Duration::from_millis(500);
/// The only variables an instance inherits from hoist; the rest come from config and the spec.
const INHERITED_VARIABLES: [&str; 3] = ["PATH", "HOME", "LANG"];
/// Log lines shown when an instance dies at once.
const FAILURE_TAIL_LINES: usize = 20;

/// Runs the instances of a deploy root on this machine.
#[derive(Debug, Clone)]
pub struct ProcessRuntime {
    root: PathBuf,
}

/// The variable every instance carries: `<root>:<slot>`, so `strays` finds instances of this
/// root that no record names.
const INSTANCE_MARK: &str = "HOIST_INSTANCE";

impl ProcessRuntime {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `run/instance.json` for the single instance, `run/instance-<slot>.json` for one of a
    /// blue-green pair, so two instances of one root can run side by side.
    fn record_name(slot: Slot) -> String {
        match slot {
            Slot::Single => "instance.json".to_owned(),
            slot => format!("instance-{slot}.json"),
        }
    }

    fn record_path(&self, slot: Slot) -> PathBuf {
        self.root.join("run").join(Self::record_name(slot))
    }

    /// `<root id>:<slot>`. The root's id, not its path: two roots at one path (hosts in
    /// containers or mount namespaces sharing a process table) must not claim each other's.
    fn mark(&self, slot: Slot) -> Result<String> {
        Ok(format!("{}:{slot}", root_id::read_or_create(&self.root)?))
    }

    fn log_path(&self, release: &ReleaseId) -> PathBuf {
        self.root.join("logs").join(format!("{release}.log"))
    }

    fn read_record(&self, slot: Slot) -> Result<Option<Instance>> {
        let path = self.record_path(slot);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(Error::io("read the instance record", &path, error)),
        };
        serde_json::from_str(&text).map(Some).map_err(|error| {
            Error::internal(format!(
                "cannot parse the instance record `{}`",
                path.display()
            ))
            .cause(error)
            .hint("if no instance of this root is running, delete the file")
        })
    }

    /// Writes the record to a temporary file and renames it over the old one.
    fn write_record(&self, slot: Slot, instance: &Instance) -> Result<()> {
        let path = self.record_path(slot);
        let run_dir = self.root.join("run");
        fs::create_dir_all(&run_dir).map_err(|e| Error::io("create", &run_dir, e))?;
        let temporary = run_dir.join(format!("{}.tmp", Self::record_name(slot)));
        let json = serde_json::to_vec_pretty(instance)
            .map_err(|e| Error::internal("cannot serialize the instance record").cause(e))?;
        let write = || -> io::Result<()> {
            let mut file = File::create(&temporary)?;
            file.write_all(&json)?;
            file.sync_all()?;
            fs::rename(&temporary, &path)
        };
        write().map_err(|e| Error::io("write the instance record", &path, e))
    }

    fn forget(&self, slot: Slot) -> Result<()> {
        let path = self.record_path(slot);
        match fs::remove_file(&path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                Err(Error::io("remove the instance record", &path, error))
            }
            _ => Ok(()),
        }
    }

    /// The env file `release` was made ready with (its own copy, else `config/env`, written
    /// by configure), or nothing if it does not exist.
    fn configured_variables(&self, release: &ReleaseId) -> Result<Vec<(String, String)>> {
        let path = Layout::open(&self.root)
            .release_config_dir(release)
            .join("env");
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(Error::io("read", &path, error)),
        };
        env_file::parse(&text).map_err(|problem| {
            Error::failed(format!("cannot read `{}`", path.display()))
                .cause(problem)
                .hint("run `configure` again to rewrite it")
        })
    }

    fn open_log(&self, path: &Path) -> Result<File> {
        let logs = self.root.join("logs");
        fs::create_dir_all(&logs).map_err(|e| Error::io("create", &logs, e))?;
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io("open the log", path, e))
    }

    fn spawn(
        &self,
        slot: Slot,
        spec: &InstanceSpec,
        release_dir: &Path,
        log_path: &Path,
    ) -> Result<Child> {
        let configured = self.configured_variables(&spec.release)?;
        let mut log = self.open_log(log_path)?;
        let header = format!(
            "==> hoist: starting release {} on port {} at {}: {}\n",
            spec.release,
            spec.port,
            jiff::Timestamp::now(),
            spec.command
        );
        let stdout = log
            .write_all(header.as_bytes())
            .and_then(|()| log.try_clone())
            .map_err(|e| Error::io("write the log", log_path, e))?;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&spec.command)
            .current_dir(release_dir)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log)
            // Its own group: it outlives hoist, and stop signals it with all its children.
            .process_group(0);
        for name in INHERITED_VARIABLES {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command
            .envs(configured)
            .envs(spec.env.iter().map(|(key, value)| (key, value)))
            .env("PORT", spec.port.to_string())
            .env("HOIST_RELEASE", spec.release.as_str())
            .env(INSTANCE_MARK, self.mark(slot)?);
        command.spawn().map_err(|error| {
            Error::failed(format!("cannot start release `{}`", spec.release)).cause(error)
        })
    }

    /// Waits up to `STARTUP_CHECK` for the child to exit; `Some` when it did.
    fn exited_at_once(child: &mut Child) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if started.elapsed() >= STARTUP_CHECK {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERMs the recorded group, waits `grace`, SIGKILLs what is left. True when something
    /// was signalled; false when the instance was already gone or its pid now names another
    /// process.
    fn terminate(instance: &Instance, grace: Duration) -> Result<bool> {
        let what = format!("release `{}`", instance.release);
        terminate_group(instance.pid, instance.start_ticks, &what, grace)
    }
}

/// SIGTERMs group `pid` (led by the process that started at `start_ticks`), waits `grace`,
/// SIGKILLs what is left; see `ProcessRuntime::terminate`.
pub(crate) fn terminate_group(
    pid: u32,
    start_ticks: u64,
    what: &str,
    grace: Duration,
) -> Result<bool> {
    {
        if let Some(stat) = proc_identity::read(pid)
            && stat.start_ticks != start_ticks
        {
            // The pid was reused, so our group is empty: Linux keeps a pid number taken while
            // a group of that number has members.
            return Ok(false);
        }
        let group = match i32::try_from(pid) {
            Ok(raw) if raw > 1 => Pid::from_raw(raw),
            _ => return Ok(false),
        };
        if group == getpgrp() {
            return Err(Error::internal(format!(
                "the instance record names hoist's own process group {pid}"
            )));
        }
        let leader_alive = proc_identity::is_same_running(pid, start_ticks);
        if !leader_alive && proc_identity::group_members(pid).is_empty() {
            return Ok(false);
        }
        signal_group(group, Signal::SIGTERM)?;
        if group_gone_within(pid, grace) {
            return Ok(true);
        }
        signal_group(group, Signal::SIGKILL)?;
        if group_gone_within(pid, KILL_WAIT) {
            return Ok(true);
        }
        Err(Error::internal(format!(
            "the processes of {what} (group {pid}) survived SIGKILL"
        )))
    }
}

fn signal_group(group: Pid, signal: Signal) -> Result<()> {
    match killpg(group, signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(error) => Err(
            Error::failed(format!("cannot send {signal} to process group {group}")).cause(error),
        ),
    }
}

/// Polls until no process of `group` is left (zombies count as gone) or `limit` passes.
fn group_gone_within(group: u32, limit: Duration) -> bool {
    let started = Instant::now();
    loop {
        if proc_identity::group_members(group).is_empty() {
            return true;
        }
        let elapsed = started.elapsed();
        if elapsed >= limit {
            return false;
        }
        thread::sleep(POLL.min(limit - elapsed));
    }
}

impl Runtime for ProcessRuntime {
    fn start(&self, slot: Slot, spec: &InstanceSpec) -> Result<Instance> {
        // A process of this slot that no record names was started by a run killed before it
        // could record it: it goes, or it would hold the port or linger unknown.
        for stray in self.strays()?.into_iter().filter(|s| s.slot == slot) {
            self.stop_stray(&stray, STRAGGLER_GRACE)?;
        }
        if let Some(state) = self.current(slot)? {
            if state.alive {
                return Err(Error::failed(format!(
                    "an instance of release `{}` is still running (pid {})",
                    state.instance.release, state.instance.pid
                ))
                .hint("stop it first"));
            }
            // Its leader is dead; children it left behind must not outlive the record.
            Self::terminate(&state.instance, STRAGGLER_GRACE)?;
        }
        let release_dir = self.root.join("releases").join(spec.release.as_str());
        if !release_dir.is_dir() {
            return Err(Error::failed(format!(
                "release `{}` has no directory `{}`",
                spec.release,
                release_dir.display()
            ))
            .hint("upload the release before starting it"));
        }
        let log_path = self.log_path(&spec.release);
        let mut child = self.spawn(slot, spec, &release_dir, &log_path)?;
        let pid = child.id();
        // The child is not reaped yet, so its /proc entry exists even if it already exited.
        let Some(stat) = proc_identity::read(pid) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::internal(format!(
                "cannot read `/proc/{pid}/stat` of the instance just started"
            )));
        };
        let instance = Instance {
            release: spec.release.clone(),
            pid,
            start_ticks: stat.start_ticks,
            port: spec.port,
            started_at: jiff::Timestamp::now().to_string(),
            log: log_path.display().to_string(),
        };
        // Recorded before the startup check, so a crash of hoist now leaves no stray instance.
        if let Err(error) = self.write_record(slot, &instance) {
            let _ = Self::terminate(&instance, Duration::ZERO);
            let _ = child.wait();
            return Err(error);
        }
        if let Some(status) = Self::exited_at_once(&mut child) {
            // Background children it left behind go with it.
            let _ = Self::terminate(&instance, Duration::ZERO);
            self.forget(slot)?;
            let tail = self.log_tail(&spec.release, FAILURE_TAIL_LINES)?;
            return Err(Error::failed(format!(
                "release `{}` exited at once ({status})",
                spec.release
            ))
            .cause(format!("last lines of `{}`:\n{tail}", log_path.display()))
            .hint(format!("the command was `{}`", spec.command)));
        }
        // Someone must reap the child, or once dead it lingers as a zombie.
        let reaper = thread::Builder::new()
            .name(format!("reap-{pid}"))
            .spawn(move || child.wait());
        drop(reaper);
        Ok(instance)
    }

    fn stop(&self, slot: Slot, grace: Duration) -> Result<Option<Instance>> {
        let Some(instance) = self.read_record(slot)? else {
            return Ok(None);
        };
        let stopped = Self::terminate(&instance, grace)?;
        self.forget(slot)?;
        Ok(stopped.then_some(instance))
    }

    fn current(&self, slot: Slot) -> Result<Option<InstanceState>> {
        Ok(self.read_record(slot)?.map(|instance| {
            let alive = proc_identity::is_same_running(instance.pid, instance.start_ticks);
            InstanceState { instance, alive }
        }))
    }

    fn strays(&self) -> Result<Vec<StrayProcess>> {
        let mut owned = Vec::new();
        for slot in [Slot::Single, Slot::Blue, Slot::Green] {
            if let Some(instance) = self.read_record(slot)? {
                owned.push(instance.pid);
            }
        }
        let mut marks = Vec::new();
        for slot in [Slot::Single, Slot::Blue, Slot::Green] {
            marks.push((slot, format!("{INSTANCE_MARK}={}", self.mark(slot)?)));
        }
        Ok(strays::find(&marks, &owned))
    }

    fn stop_stray(&self, stray: &StrayProcess, grace: Duration) -> Result<bool> {
        let what = format!("a stray {} instance", stray.slot);
        terminate_group(stray.pid, stray.start_ticks, &what, grace)
    }

    fn log_tail(&self, release: &ReleaseId, lines: usize) -> Result<String> {
        let path = self.log_path(release);
        log_tail::read(&path, lines).map_err(|e| Error::io("read the log", &path, e))
    }
}

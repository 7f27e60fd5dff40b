//! The `process` runtime: hoist starts the service on the host itself. Each instance is a
//! process group led by its monitor (`hoist host instance`, see `instance_monitor.rs`),
//! which runs the command with `sh -c` in the release directory and writes its output to
//! `logs/<release>.log`. The record (`instance_record.rs`) holds the monitor's pid and start
//! time, so a reused pid is never signalled, and how it was launched, so the host's
//! supervisor can start it again.

mod env_file;
pub(crate) mod log_tail;
mod spawn;
mod strays;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

use hoist_core::ReleaseId;
use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, getpgrp};

pub(crate) use spawn::{
    COMPOSE_PROJECT_MARK, configured_variables, instance_command, mark, reap_later, spawn_monitor,
};

use crate::error::{Error, Result};
use crate::hostside::instance_record::{
    InstanceRecord, InstanceRecords, LaunchSpec, SupervisionRecord,
};
use crate::hostside::proc_identity;
use crate::hostside::root_id::INSTANCE_MARK;
use crate::hostside::{compose_engine, container_engine};
use crate::ports::runtime::{
    Instance, InstanceSpec, InstanceState, PortHolder, Runtime, Slot, StackService, StrayProcess,
};

/// How long a new instance must stay up before `start` calls it started.
const STARTUP_CHECK: Duration = Duration::from_millis(100);
const POLL: Duration = Duration::from_millis(20);
/// How long to wait for a SIGKILLed group to vanish before calling it stuck.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// How long children left behind by a dead instance get between SIGTERM and SIGKILL.
const STRAGGLER_GRACE: Duration = Duration::from_millis(500);
/// The only variables an instance inherits from hoist; the rest come from config and the spec.
pub(crate) const INHERITED_VARIABLES: [&str; 3] = ["PATH", "HOME", "LANG"];
/// Log lines shown when an instance dies at once.
const FAILURE_TAIL_LINES: usize = 20;

/// Runs the instances of a deploy root on this machine.
#[derive(Debug, Clone)]
pub struct ProcessRuntime {
    root: PathBuf,
    records: InstanceRecords,
}

impl ProcessRuntime {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            records: InstanceRecords::new(&root),
            root,
        }
    }

    fn log_path(&self, release: &ReleaseId) -> PathBuf {
        self.root.join("logs").join(format!("{release}.log"))
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

    fn state_of(record: InstanceRecord) -> InstanceState {
        let alive =
            proc_identity::is_same_running(record.instance.pid, record.instance.start_ticks);
        InstanceState {
            supervision: record.supervision.as_ref().map(|s| s.report()),
            instance: record.instance,
            alive,
            services: Vec::new(),
        }
    }

    /// Hands the slot's live instance to the supervisor's care, resetting its history.
    pub(crate) fn mark_supervised(
        &self,
        slot: Slot,
        policy: &crate::ports::supervisor::SupervisionPolicy,
    ) -> Result<()> {
        let _lock = self.records.lock(slot)?;
        let Some(mut record) = self.records.read(slot)? else {
            return Err(
                Error::failed(format!("no {slot} instance is recorded")).hint("start it first")
            );
        };
        if !proc_identity::is_same_running(record.instance.pid, record.instance.start_ticks) {
            return Err(Error::failed(format!(
                "the {slot} instance of `{}` (pid {}) is not running",
                record.instance.release, record.instance.pid
            ))
            .hint("start it again before handing it to the supervisor"));
        }
        record.supervision = Some(SupervisionRecord::new(policy.into()));
        self.records.write(slot, &record)
    }
}

impl ProcessRuntime {
    /// Whether the slot's record names a running instance.
    fn slot_is_live(&self, slot: Slot) -> Result<bool> {
        Ok(self
            .records
            .read(slot)?
            .is_some_and(|record| Self::state_of(record).alive))
    }

    /// Containers of this root whose slot has no running instance, leaving out slots that
    /// already have a stray process (stopping that one removes its container).
    fn stray_containers(&self, processes: &[StrayProcess]) -> Result<Vec<StrayProcess>> {
        let mut strays = Vec::new();
        for (name, slot) in container_engine::containers_of_root(&self.root)? {
            if processes.iter().any(|p| p.slot == slot) || self.slot_is_live(slot)? {
                continue;
            }
            strays.push(StrayProcess {
                pid: 0,
                start_ticks: 0,
                slot,
                command: format!("container {name}"),
                container: Some(name),
            });
        }
        Ok(strays)
    }

    /// Removes a stray container, only one named as this root's for `slot`, and only while the
    /// slot has no running instance.
    fn remove_stray_container(&self, name: &str, slot: Slot) -> Result<bool> {
        let own = crate::hostside::root_id::read(&self.root)
            .is_some_and(|id| container_engine::container_name(&id, slot) == name);
        if !own {
            return Err(Error::failed(format!(
                "`{name}` is not this root's {slot} container"
            )));
        }
        if self.slot_is_live(slot)? {
            return Ok(false);
        }
        container_engine::remove_slot(&self.root, slot, None)
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
        let _lock = self.records.lock(slot)?;
        // A process of this slot that no record names was started by a run killed before it
        // could record it: it goes, or it would hold the port or linger unknown.
        for stray in self.strays()?.into_iter().filter(|s| s.slot == slot) {
            self.stop_stray(&stray, STRAGGLER_GRACE)?;
        }
        if let Some(record) = self.records.read(slot)? {
            let state = Self::state_of(record);
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
        // Another process on the port would answer for this instance: refused, named.
        crate::hostside::port_owner::ensure_free(spec.port, &self.root)?;
        let launch = LaunchSpec::from(spec);
        let (mut child, instance) = spawn_monitor(&self.root, slot, &launch)?;
        let record = InstanceRecord {
            instance: instance.clone(),
            launch: Some(launch),
            supervision: None,
            stopping: false,
        };
        // Recorded before the startup check, so a crash of hoist now leaves no stray instance.
        if let Err(error) = self.records.write(slot, &record) {
            let _ = Self::terminate(&instance, Duration::ZERO);
            let _ = child.wait();
            return Err(error);
        }
        if let Some(status) = Self::exited_at_once(&mut child) {
            // Background children it left behind go with it.
            let _ = Self::terminate(&instance, Duration::ZERO);
            if let Some(container) = &spec.container {
                let _ =
                    container_engine::remove_slot(&self.root, slot, container.engine.as_deref());
            }
            if let Some(compose) = &spec.compose {
                let _ = compose_engine::down(compose, false);
            }
            let how = self
                .records
                .exit_of(slot, instance.pid, instance.start_ticks)
                .map_or_else(|| status.to_string(), |exit| exit.describe());
            self.records.forget(slot)?;
            let tail = self.log_tail(&spec.release, FAILURE_TAIL_LINES)?;
            return Err(Error::failed(format!(
                "release `{}` exited at once ({how})",
                spec.release
            ))
            .cause(format!("last lines of `{}`:\n{tail}", instance.log))
            .hint(format!("the command was `{}`", spec.command)));
        }
        reap_later(child);
        Ok(instance)
    }

    fn stop(&self, slot: Slot, grace: Duration) -> Result<Option<Instance>> {
        let _lock = self.records.lock(slot)?;
        let Some(mut record) = self.records.read(slot)? else {
            return Ok(None);
        };
        // Recorded first: if this stop dies half way, the supervisor must not restart it.
        if !record.stopping {
            record.stopping = true;
            self.records.write(slot, &record)?;
        }
        let stopped = Self::terminate(&record.instance, grace)?;
        // A SIGKILLed engine client leaves its container running under the engine.
        if let Some(container) = record.launch.as_ref().and_then(|l| l.container.as_ref()) {
            container_engine::remove_slot(&self.root, slot, container.engine.as_deref())?;
        }
        if let Some(compose) = record.launch.as_ref().and_then(|l| l.compose.as_ref()) {
            compose_engine::down(compose, false)?;
            let env_file = container_engine::env_file_path(&self.root, "compose");
            crate::hostside::atomic_fs::remove_if_present(&env_file)?;
        }
        self.records.forget(slot)?;
        Ok(stopped.then_some(record.instance))
    }

    fn current(&self, slot: Slot) -> Result<Option<InstanceState>> {
        Ok(self.records.read(slot)?.map(Self::state_of))
    }

    fn stack_services(&self, slot: Slot) -> Result<Vec<StackService>> {
        let compose = self
            .records
            .read(slot)?
            .and_then(|record| record.launch?.compose);
        match compose {
            Some(compose) => compose_engine::services(&compose),
            None => Ok(Vec::new()),
        }
    }

    fn port_holder(&self, port: u16) -> Result<Option<PortHolder>> {
        Ok(crate::hostside::port_owner::holder(port, &self.root))
    }

    fn strays(&self) -> Result<Vec<StrayProcess>> {
        let mut owned = Vec::new();
        for slot in [Slot::Single, Slot::Blue, Slot::Green] {
            if let Some(record) = self.records.read(slot)? {
                owned.push(record.instance.pid);
            }
        }
        let mut marks = Vec::new();
        for slot in [Slot::Single, Slot::Blue, Slot::Green] {
            marks.push((slot, format!("{INSTANCE_MARK}={}", mark(&self.root, slot)?)));
        }
        let mut found = strays::find(&marks, &owned);
        if container_engine::root_uses_containers(&self.root) {
            found.extend(self.stray_containers(&found)?);
        }
        Ok(found)
    }

    fn stop_stray(&self, stray: &StrayProcess, grace: Duration) -> Result<bool> {
        if let Some(name) = &stray.container {
            return self.remove_stray_container(name, stray.slot);
        }
        let what = format!("a stray {} instance", stray.slot);
        let stopped = terminate_group(stray.pid, stray.start_ticks, &what, grace)?;
        // Its engine client is gone now; the container it ran goes too, unless a live record
        // owns the slot.
        if container_engine::root_uses_containers(&self.root) && !self.slot_is_live(stray.slot)? {
            container_engine::remove_slot(&self.root, stray.slot, None)?;
        }
        Ok(stopped)
    }

    fn log_tail(&self, release: &ReleaseId, lines: usize) -> Result<String> {
        let path = self.log_path(release);
        log_tail::read(&path, lines).map_err(|e| Error::io("read the log", &path, e))
    }

    fn relabel(&self, slot: Slot, release: &ReleaseId) -> Result<()> {
        let _lock = self.records.lock(slot)?;
        let Some(mut record) = self.records.read(slot)? else {
            return Ok(());
        };
        record.instance.release = release.clone();
        if let Some(launch) = record.launch.as_mut() {
            launch.release = release.clone();
        }
        self.records.write(slot, &record)
    }
}

//! The supervisor's process: `hoist host --root R supervise`, started detached in its own
//! process group and recorded in `run/supervisor.json` (pid + start time, and which binary it
//! runs, so a newer hoist replaces it). At most one runs per root: it holds
//! `run/supervisor.lock` for its whole life, and a second one exits at once.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hostside::atomic_fs;
use crate::hostside::hoist_binary::hoist_binary;
use crate::hostside::proc_identity;
use crate::hostside::process_runtime::{log_tail, reap_later, terminate_group};
use crate::ports::supervisor::{SupervisorStart, SupervisorState};

/// How long a new supervisor gets to record itself.
const READY_WITHIN: Duration = Duration::from_secs(10);
/// How long an old supervisor gets to exit on SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisorRecord {
    pub pid: u32,
    pub start_ticks: u64,
    pub started_at: String,
    pub binary: BinaryIdentity,
}

/// Which file a process was started from: a rebuilt or reinstalled binary differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryIdentity {
    pub path: PathBuf,
    pub device: u64,
    pub inode: u64,
    pub modified_ns: i64,
}

impl BinaryIdentity {
    pub fn of(path: &Path) -> Result<Self> {
        let meta = fs::metadata(path).map_err(|e| Error::io("read", path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            device: meta.dev(),
            inode: meta.ino(),
            modified_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct SupervisorProcess {
    root: PathBuf,
}

impl SupervisorProcess {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    pub fn record_path(&self) -> PathBuf {
        self.root.join("run").join("supervisor.json")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.root.join("run").join("supervisor.lock")
    }

    fn log_path(&self) -> PathBuf {
        self.root.join("logs").join("supervisor.log")
    }

    pub fn read(&self) -> Option<SupervisorRecord> {
        let bytes = fs::read(self.record_path()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn write(&self, record: &SupervisorRecord) -> Result<()> {
        atomic_fs::write_json(&self.record_path(), record)
    }

    pub fn state(&self) -> Option<SupervisorState> {
        self.read().map(|record| SupervisorState {
            pid: record.pid,
            alive: proc_identity::is_same_running(record.pid, record.start_ticks),
            started_at: record.started_at,
        })
    }

    /// Starts the supervisor unless it runs on the binary it would be started from now.
    pub fn ensure(&self) -> Result<SupervisorStart> {
        let binary = hoist_binary(&self.root)?;
        let identity = BinaryIdentity::of(&binary)?;
        let outcome = match self.read() {
            None => SupervisorStart::Started,
            Some(record) => {
                let alive = proc_identity::is_same_running(record.pid, record.start_ticks);
                if alive && record.binary == identity {
                    return Ok(SupervisorStart::Running);
                }
                // Dead, or an older binary: a new one adopts the instances.
                terminate_group(record.pid, record.start_ticks, "the supervisor", STOP_GRACE)?;
                SupervisorStart::Restarted
            }
        };
        self.start(&binary)?;
        Ok(outcome)
    }

    /// Stops the supervisor; the instances keep running. True if one ran.
    pub fn stop(&self) -> Result<bool> {
        let Some(record) = self.read() else {
            return Ok(false);
        };
        let stopped =
            terminate_group(record.pid, record.start_ticks, "the supervisor", STOP_GRACE)?;
        match fs::remove_file(self.record_path()) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io("remove", &self.record_path(), error))
            }
            _ => Ok(stopped),
        }
    }

    fn start(&self, binary: &Path) -> Result<()> {
        let logs = self.root.join("logs");
        fs::create_dir_all(&logs).map_err(|e| Error::io("create", &logs, e))?;
        let run = self.root.join("run");
        fs::create_dir_all(&run).map_err(|e| Error::io("create", &run, e))?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| Error::io("open the log", &self.log_path(), e))?;
        let stderr = log
            .try_clone()
            .map_err(|e| Error::io("open the log", &self.log_path(), e))?;
        // Instances, hooks and the host's own processes run at the priority the controller
        // started with, not the one it lowered itself to (`cpu_priority`).
        let _normal = crate::cpu_priority::NormalPriority::for_spawn();
        let mut child = Command::new(binary)
            .arg("host")
            .arg("--root")
            .arg(&self.root)
            .arg("supervise")
            .env_clear()
            .envs(
                ["PATH", "HOME", "LANG"]
                    .into_iter()
                    .filter_map(|name| std::env::var_os(name).map(|value| (name, value))),
            )
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            // Its own group: it outlives this hoist and is stopped as a whole.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                Error::failed("cannot start the supervisor")
                    .cause(format!("`{}`: {e}", binary.display()))
            })?;
        let pid = child.id();
        let started = Instant::now();
        loop {
            if self.read().is_some_and(|record| record.pid == pid) {
                reap_later(child);
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                // Another supervisor held the lock: then it is the one recorded.
                if let Some(state) = self.state()
                    && state.alive
                {
                    return Ok(());
                }
                let tail = log_tail::read(&self.log_path(), 20)
                    .unwrap_or_else(|e| format!("(no log: {e})"));
                return Err(
                    Error::failed(format!("the supervisor exited at once ({status})")).cause(tail),
                );
            }
            if started.elapsed() > READY_WITHIN {
                return Err(Error::failed(format!(
                    "the supervisor (pid {pid}) did not record itself within {}s",
                    READY_WITHIN.as_secs()
                ))
                .hint(format!("see `{}`", self.log_path().display())));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

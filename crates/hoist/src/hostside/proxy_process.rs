//! The built-in proxy's process on a host: hoist starts `hoist proxy` detached in its own
//! process group, records it in `run/proxy.json` (pid + start time, like instances), and
//! starts it again when it finds it dead. Its state (routes, admin socket) is `run/proxy/`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hostside::atomic_fs;
use crate::hostside::proc_identity;
use crate::hostside::process_runtime::{log_tail, terminate_group};
use crate::ports::router::{ProxyProcessState, ProxyStart};
use crate::proxy::{AdminCommand, AdminReply, ProxyPaths};

/// How long a new proxy gets to answer on its admin socket.
const READY_WITHIN: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(10);
const LOG_TAIL_LINES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ProxyRecord {
    pid: u32,
    start_ticks: u64,
    listen: SocketAddr,
    started_at: String,
    /// How long it drains on SIGTERM (records of older versions: the default).
    #[serde(default = "default_drain_ms")]
    drain_ms: u64,
}

fn default_drain_ms() -> u64 {
    10_000
}

#[derive(Debug, Clone)]
pub struct ProxyProcess {
    root: PathBuf,
}

impl ProxyProcess {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join("run").join("proxy")
    }

    pub fn paths(&self) -> ProxyPaths {
        ProxyPaths::new(&self.state_dir())
    }

    fn record_path(&self) -> PathBuf {
        self.root.join("run").join("proxy.json")
    }

    fn log_path(&self) -> PathBuf {
        self.root.join("logs").join("proxy.log")
    }

    fn read_record(&self) -> Result<Option<ProxyRecord>> {
        let path = self.record_path();
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::failed(format!(
                    "cannot parse the proxy record `{}`",
                    path.display()
                ))
                .cause(e)
                .hint("if no `hoist proxy` of this root runs, delete the file")
            }),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::io("read the proxy record", &path, error)),
        }
    }

    /// The recorded proxy and whether that very process still runs.
    pub fn state(&self) -> Result<Option<ProxyProcessState>> {
        Ok(self.read_record()?.map(|record| ProxyProcessState {
            pid: record.pid,
            listen: record.listen,
            alive: proc_identity::is_same_running(record.pid, record.start_ticks),
            started_at: record.started_at,
        }))
    }

    /// Starts the proxy unless that very proxy already runs on `listen` and answers.
    pub fn ensure(&self, listen: SocketAddr, drain: Duration) -> Result<ProxyStart> {
        let outcome = match self.read_record()? {
            None => ProxyStart::Started,
            Some(record) => {
                let alive = proc_identity::is_same_running(record.pid, record.start_ticks);
                if alive && record.listen == listen && self.answers() {
                    return Ok(ProxyStart::Running);
                }
                // Dead, hung, or listening elsewhere: replace it.
                terminate_group(record.pid, record.start_ticks, "the proxy", drain)?;
                ProxyStart::Restarted
            }
        };
        self.start(listen, drain)?;
        Ok(outcome)
    }

    /// After a reboot: starts the recorded proxy again, on its recorded address, unless it
    /// runs. `None` when no proxy was ever recorded.
    pub fn restore(&self) -> Result<Option<ProxyStart>> {
        match self.read_record()? {
            None => Ok(None),
            Some(record) => self
                .ensure(record.listen, Duration::from_millis(record.drain_ms))
                .map(Some),
        }
    }

    /// Sends one admin command to the running proxy.
    pub fn admin(&self, command: &AdminCommand) -> Result<AdminReply> {
        crate::proxy::request(&self.paths().admin_socket, command)
    }

    fn answers(&self) -> bool {
        self.admin(&AdminCommand::Get(None)).is_ok()
    }

    /// Stops the recorded proxy (SIGTERM: it drains for its own drain time) and forgets it.
    pub fn stop(&self, grace: Duration) -> Result<bool> {
        let Some(record) = self.read_record()? else {
            return Ok(false);
        };
        let stopped = terminate_group(record.pid, record.start_ticks, "the proxy", grace)?;
        match fs::remove_file(self.record_path()) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(Error::io(
                "remove the proxy record",
                &self.record_path(),
                error,
            )),
            _ => Ok(stopped),
        }
    }

    fn start(&self, listen: SocketAddr, drain: Duration) -> Result<()> {
        // Another process on the public port: refused, naming it, before the proxy fails.
        crate::hostside::port_owner::ensure_free(listen.port(), &self.root)?;
        let binary = std::env::current_exe()
            .map_err(|e| Error::internal("cannot find the running hoist binary").cause(e))?;
        let log = self.open_log()?;
        let stderr = log
            .try_clone()
            .map_err(|e| Error::io("open the log", &self.log_path(), e))?;
        let state_dir = self.state_dir();
        // Instances, hooks and the host's own processes run at the priority the controller
        // started with, not the one it lowered itself to (`cpu_priority`).
        let _normal = crate::cpu_priority::NormalPriority::for_spawn();
        let mut child = Command::new(&binary)
            .arg("proxy")
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--drain-timeout")
            .arg(format!("{}ms", drain.as_millis()))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            // Its own group: it outlives this hoist and is stopped as a whole.
            .process_group(0)
            .spawn()
            .map_err(|e| Error::failed("cannot start `hoist proxy`").cause(e))?;
        let pid = child.id();
        let Some(stat) = proc_identity::read(pid) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::internal(format!(
                "cannot read `/proc/{pid}/stat` of the proxy just started"
            )));
        };
        let record = ProxyRecord {
            pid,
            start_ticks: stat.start_ticks,
            listen,
            started_at: jiff::Timestamp::now().to_string(),
            drain_ms: u64::try_from(drain.as_millis()).unwrap_or(u64::MAX),
        };
        // Recorded before waiting for it, so a crash now leaves a proxy hoist knows about.
        self.write_record(&record)?;
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let _ = fs::remove_file(self.record_path());
                let tail = log_tail::read(&self.log_path(), LOG_TAIL_LINES)
                    .unwrap_or_else(|e| format!("(no log: {e})"));
                return Err(Error::failed(format!(
                    "`hoist proxy` exited at once ({status}) instead of listening on {listen}"
                ))
                .cause(tail)
                .hint(format!(
                    "is another process using port {}? with blue-green, the proxy owns the service's `port`",
                    listen.port()
                )));
            }
            if self.answers() {
                break;
            }
            if started.elapsed() > READY_WITHIN {
                return Err(Error::failed(format!(
                    "`hoist proxy` (pid {pid}) did not answer on its admin socket within {}s",
                    READY_WITHIN.as_secs()
                ))
                .hint(format!("see `{}`", self.log_path().display())));
            }
            thread::sleep(POLL);
        }
        // Someone must reap it if it dies while this process lives (a `host serve` session).
        drop(thread::Builder::new().spawn(move || child.wait()));
        Ok(())
    }

    fn open_log(&self) -> Result<File> {
        let path = self.log_path();
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io("open the log", &path, e))?;
        let header = format!(
            "==> hoist: starting the proxy at {}\n",
            jiff::Timestamp::now()
        );
        file.write_all(header.as_bytes())
            .map_err(|e| Error::io("write the log", &path, e))?;
        Ok(file)
    }

    fn write_record(&self, record: &ProxyRecord) -> Result<()> {
        atomic_fs::write_json(&self.record_path(), record)
    }
}

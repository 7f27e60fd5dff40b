//! A ControlMaster that outlives the command that opened it (`ssh_persist`), for the next
//! command, the daemon and the hosts behind a jump host to reuse. One per host and set of ssh
//! settings: its socket sits in the user's private control directory, named by a hash of the
//! host and one of everything that shapes the connection, so a changed setting gets a master
//! of its own and the old one is told to exit. A socket nobody answers on (a killed master)
//! is removed and a new master started: the user sees no error, only a login.

use std::fs::{File, OpenOptions};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use hoist_core::SshDestination;
use nix::fcntl::{Flock, FlockArg};

use super::command_line::SshCommandLine;
use super::control_dir::private_parent;
use super::diagnosis::Attempt;
use super::mux_session::MuxSession;
use super::{LOGIN_SLACK, read_log, spawn_error};
use crate::error::{Error, Result};
use crate::hostside::atomic_fs::is_still_named;
use crate::ports::connector::HostTarget;

/// Lock and log files this old, of a host with no master, go when a master starts.
const LEFTOVER_AGE: Duration = Duration::from_secs(600);
/// How long the session that turns Nagle off may take to end.
const NAGLE_SESSION_WAIT: Duration = Duration::from_secs(2);
/// Hex digits of each half of a socket's name (sockets allow 108 bytes in all).
const KEY_LENGTH: usize = 12;

/// Where a shared master of one host with one set of settings lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedSocket {
    pub path: PathBuf,
    /// `s-<host key>-`: every master of this host, whatever its settings.
    host_prefix: String,
    parent: PathBuf,
}

impl SharedSocket {
    /// The socket for `destination` reached with `target`'s settings (and `jump`), shared
    /// for `persist`.
    pub fn for_host(
        program: &Path,
        target: &HostTarget,
        destination: &SshDestination,
        jump: Option<&SshDestination>,
    ) -> Result<Self> {
        let parent = private_parent()?;
        let host = format!(
            "{destination}\n{}",
            jump.map(ToString::to_string).unwrap_or_default()
        );
        let config = target.ssh_config.clone().or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".ssh").join("config"))
        });
        let settings = format!(
            "{host}\n{}\n{:?}\n{:?}\n{:?}\n{:?}\n{}\n{}",
            program.display(),
            target.ssh_config,
            target.identity,
            config.as_deref().and_then(changed_at),
            target.connect_timeout,
            target.ssh_persist.as_secs(),
            // The key file replaced (rotated) is a changed setting too.
            target
                .identity
                .as_deref()
                .and_then(changed_at)
                .map(|at| format!("{at:?}"))
                .unwrap_or_default(),
        );
        let host_prefix = format!("s-{}-", short_hash(&host));
        let path = parent.join(format!("{host_prefix}{}", short_hash(&settings)));
        Ok(Self {
            path,
            host_prefix,
            parent,
        })
    }

    /// Whether a master answers on the socket.
    pub fn is_alive(&self) -> bool {
        UnixStream::connect(&self.path).is_ok()
    }

    /// Makes sure a live master listens on the socket: the one there, or a new one started
    /// with `command_line` (whose control path is this socket) and logged in before this
    /// returns. Masters of the same host with other settings are told to exit.
    pub fn ensure(
        &self,
        command_line: &SshCommandLine,
        persist: Duration,
        attempt: &Attempt<'_>,
    ) -> Result<()> {
        if self.is_alive() {
            return Ok(());
        }
        // One command starts the master; one that comes at the same time waits and uses it.
        let _lock = self.lock()?;
        if self.is_alive() {
            return Ok(());
        }
        self.start_detached(command_line, persist, attempt)
    }

    /// Before a new master listens here (under `lock`): masters of this host with other
    /// settings exit, a socket left by a killed master goes (ssh would refuse it), and so do
    /// the old leftovers of other hosts' masters.
    pub fn clear_for_new_master(&self, command_line: &SshCommandLine) {
        self.close_others(command_line);
        let _ = std::fs::remove_file(&self.path);
        prune_leftovers(&self.parent, SystemTime::now());
    }

    /// Starts a master that goes to the background once logged in (under `lock`).
    pub fn start_detached(
        &self,
        command_line: &SshCommandLine,
        persist: Duration,
        attempt: &Attempt<'_>,
    ) -> Result<()> {
        self.clear_for_new_master(command_line);
        let log_path = self.path.with_extension("log");
        let log = File::create(&log_path)
            .map_err(|error| Error::io("create the ssh log", &log_path, error))?;
        let mut child = Command::new(&command_line.program)
            .args(command_line.shared_master_args(persist.as_secs().max(1)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|error| spawn_error(&command_line.program, error))?;
        let hops = if attempt.jump.is_some() { 2 } else { 1 };
        let deadline = Instant::now() + attempt.connect_timeout * hops + LOGIN_SLACK;
        // With `-f` the process exits once logged in, leaving the master behind it.
        let mut pause = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let mut error = attempt.timed_out();
                    for line in read_log(&log_path).lines().filter(|l| !l.trim().is_empty()) {
                        error = error.cause(line.trim());
                    }
                    return Err(error);
                }
                Ok(None) => std::thread::sleep(pause),
                Err(error) => {
                    return Err(Error::internal("cannot wait for ssh").cause(error));
                }
            }
            pause = (pause * 2).min(Duration::from_millis(10));
        };
        if status.success() && self.is_alive() {
            // The log only ever explains a failed login.
            let _ = std::fs::remove_file(&log_path);
            turn_nagle_off(&self.path);
            return Ok(());
        }
        Err(attempt.error(&read_log(&log_path)))
    }

    /// Asks the master to exit (`ssh -O exit`) and removes what it leaves.
    pub fn close(&self, command_line: &SshCommandLine) {
        close_socket(command_line, &self.path);
    }

    /// Masters of this host started with other settings: the settings changed since.
    fn close_others(&self, command_line: &SshCommandLine) {
        let Ok(entries) = std::fs::read_dir(&self.parent) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = entry.path();
            if name.starts_with(&self.host_prefix) && !name.contains('.') && path != self.path {
                close_socket(command_line, &path);
            }
        }
    }

    /// The host's lock: held while a master of it starts.
    pub fn lock(&self) -> Result<Flock<File>> {
        // A name with a dot: never taken for a socket by `close_others`.
        let path = self.parent.join(format!("{}.lock", self.host_prefix));
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|error| Error::io("open", &path, error))?;
            let held = Flock::lock(file, FlockArg::LockExclusive)
                .map_err(|(_, error)| Error::io("lock", &path, error.into()))?;
            // Pruned between the open and the lock (`prune_leftovers`): no longer the lock.
            if is_still_named(&held, &path) {
                return Ok(held);
            }
        }
    }
}

/// Removes what masters that ended on their own leave behind, once older than
/// `LEFTOVER_AGE`: the lock file of a host none of whose masters has a socket any more, and
/// the log of a failed login whose socket is gone. A lock goes only while held here, so
/// whoever opened it just before finds it no longer named (`lock`) and opens a new one.
fn prune_leftovers(parent: &Path, now: SystemTime) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let mut sockets = Vec::new();
    let mut leftovers = Vec::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !name.starts_with("s-") {
            continue;
        }
        match name.rsplit_once('.') {
            None => sockets.push(name),
            Some((stem, "lock" | "log")) => leftovers.push((entry.path(), stem.to_owned())),
            Some(_) => {}
        }
    }
    for (path, stem) in leftovers {
        let old = changed_at(&path)
            .and_then(|at| now.duration_since(at).ok())
            .is_some_and(|age| age >= LEFTOVER_AGE);
        if !old {
            continue;
        }
        let is_lock = path
            .extension()
            .is_some_and(|extension| extension == "lock");
        // A lock's stem is its host's prefix; a log's is its socket's name.
        if sockets.iter().any(|socket| match is_lock {
            true => socket.starts_with(&stem),
            false => *socket == stem,
        }) {
            continue;
        }
        if !is_lock {
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let Ok(file) = OpenOptions::new().write(true).open(&path) else {
            continue;
        };
        if let Ok(_held) = Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn close_socket(command_line: &SshCommandLine, socket: &Path) {
    if let Ok(args) = command_line.exit_args(socket) {
        let _ = Command::new(&command_line.program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = std::fs::remove_file(socket);
    let _ = std::fs::remove_file(socket.with_extension("log"));
}

/// Runs one short session (`true`) through the new master. sshd turns Nagle's algorithm off
/// for a connection only when a session starts on it, and a jump host's connection carries
/// none of its own (only its hosts' forwarded connections): there, the answers of several
/// hosts coming back at once each waited for a delayed ACK, 40 ms at a time. A command given
/// to a master started with `-f` and ControlPersist is not run (seen with OpenSSH 9.2), hence
/// a session of its own. Best effort: a master that refuses it works as before, and a jump
/// host whose forced command does not end is not waited for long.
fn turn_nagle_off(socket: &Path) {
    if let Ok(mut session) = MuxSession::open(socket, "true") {
        let _ = session.exit_status_within(NAGLE_SESSION_WAIT);
    }
}

fn changed_at(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn short_hash(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex()[..KEY_LENGTH].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_aged(path: &Path, age: Duration) {
        let file = File::create(path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn leftovers_of_masters_that_are_gone_are_pruned_and_nothing_in_use_is() {
        let dir = tempfile::tempdir().unwrap();
        let parent = dir.path();
        let old = LEFTOVER_AGE + Duration::from_secs(60);
        let young = Duration::from_secs(5);
        file_aged(&parent.join("s-aaa-.lock"), old); // no master of host aaa: goes
        file_aged(&parent.join("s-bbb-.lock"), old); // host bbb has a socket: stays
        file_aged(&parent.join("s-bbb-111"), old);
        file_aged(&parent.join("s-ccc-.lock"), young); // too young: stays
        file_aged(&parent.join("s-ddd-222.log"), old); // its socket is gone: goes
        file_aged(&parent.join("s-bbb-111.log"), old); // its socket is there: stays
        file_aged(&parent.join("unrelated.lock"), old); // not hoist's: stays
        let held = SharedSocket {
            path: parent.join("s-eee-333"),
            host_prefix: "s-eee-".to_owned(),
            parent: parent.to_path_buf(),
        };
        let lock = held.lock().unwrap();
        File::options()
            .write(true)
            .open(parent.join("s-eee-.lock"))
            .unwrap()
            .set_modified(SystemTime::now() - old)
            .unwrap();

        // What a new master's start does, under its host's lock.
        let target = HostTarget {
            address: "deploy@web1".parse().unwrap(),
            root: PathBuf::from("/srv/app"),
            jump: None,
            ssh_config: None,
            identity: None,
            host_binary: None,
            connect_timeout: Duration::from_secs(1),
            ssh_persist: Duration::from_secs(60),
        };
        let command_line = SshCommandLine::new(
            Path::new("ssh"),
            &target,
            &"deploy@web1".parse().unwrap(),
            &held.path,
            None,
        )
        .unwrap();
        held.clear_for_new_master(&command_line);
        let mut left: Vec<String> = std::fs::read_dir(parent)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "s-bbb-.lock",
                "s-bbb-111",
                "s-bbb-111.log",
                "s-ccc-.lock",
                "s-eee-.lock", // held: stays
                "unrelated.lock",
            ]
        );
        drop(lock);
        prune_leftovers(parent, SystemTime::now());
        assert!(!parent.join("s-eee-.lock").exists());
        // The next lock of that host makes a new file and holds it.
        let again = held.lock().unwrap();
        assert!(is_still_named(&again, &parent.join("s-eee-.lock")));
    }
}

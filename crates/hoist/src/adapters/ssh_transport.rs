//! `Transport` over the system's OpenSSH: `connect` opens one ControlMaster for the host (so
//! ssh_config, the agent and known_hosts work as the user expects) and every command and
//! rsync runs through it; drop closes it. `connect_serving` has the master carry the host's
//! session itself, so a host costs one ssh process and one login. Host keys are checked,
//! never accepted blindly, and a failed connection becomes an error that names the host and
//! says what to do.

mod command_line;
mod control_dir;
mod diagnosis;
mod file_copy;
mod jump_master;
mod master_session;
mod mux_session;
mod port_forward;
mod shared_master;
mod streaming;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use hoist_core::HostAddress;

use crate::adapters::transport::{
    ChildSession, PortForward, Transport, TransportOutput, TransportSession,
};
use crate::error::{Error, Result};
use crate::ports::connector::HostTarget;

use command_line::{Route, SshCommandLine, shell_quote};
use control_dir::{ControlDir, EntryWatch};
use diagnosis::Attempt;
use jump_master::JumpMaster;
use master_session::{MasterInput, MasterSession, wrapped_command};
use mux_session::MuxSession;
use shared_master::SharedSocket;
use streaming::{STDERR_TAIL_BYTES, read_tail, run_streaming};

/// Time a login may take beyond the connect timeouts (key exchange, auth, a slow host).
pub(crate) const LOGIN_SLACK: Duration = Duration::from_secs(10);
/// How long a master may take to exit when asked before it is killed.
const MASTER_EXIT_GRACE: Duration = Duration::from_secs(3);

#[derive(Debug)]
pub struct SshTransport {
    /// The host as the user wrote it, for messages.
    destination: String,
    jump: Option<String>,
    connect_timeout: Duration,
    command_line: SshCommandLine,
    /// Where the master listens.
    socket: PathBuf,
    /// This transport's own master (`ssh_persist` is zero): it ends with the transport.
    master: Option<Mutex<Child>>,
    /// The shared master this transport rides instead (`ssh_persist`): it stays up.
    shared: Option<SharedSocket>,
    persist: Duration,
    /// The master's stdin when it carries a session: open until drop, whoever holds the
    /// session, so the master (and every channel riding it) lasts as long as the transport.
    master_input: MasterInput,
    /// The session the master carries, until `open_session` hands it out.
    master_session: Mutex<Option<CarriedSession>>,
    has_rsync: OnceLock<bool>,
    /// Close the shared masters on drop (`close_when_done`).
    closing: AtomicBool,
    /// The jump host's master every host behind it rides; dropped after this host's master.
    jump_master: Option<Arc<JumpMaster>>,
    /// Declared last: dropped after the master is gone (own masters only).
    control_dir: Option<ControlDir>,
}

impl SshTransport {
    /// Connects to `target`'s host with `ssh` from `PATH`.
    pub fn connect(target: &HostTarget) -> Result<Self> {
        Self::connect_with_program(Path::new("ssh"), target)
    }

    /// Connects to `target`'s host with a master that runs `session` there as it logs in:
    /// the first `open_session` with the same argv gets it, with no further ssh started.
    pub fn connect_serving(target: &HostTarget, session: Vec<String>) -> Result<Self> {
        Self::connect_with(Path::new("ssh"), target, Some(session))
    }

    /// Connects with the given ssh program (tests use a wrapper). Returns once the master is
    /// logged in, or with an error naming the host: unreachable, host key unknown, refused.
    pub fn connect_with_program(ssh_program: &Path, target: &HostTarget) -> Result<Self> {
        Self::connect_with(ssh_program, target, None)
    }

    fn connect_with(
        ssh_program: &Path,
        target: &HostTarget,
        session: Option<Vec<String>>,
    ) -> Result<Self> {
        let HostAddress::Ssh(destination) = &target.address else {
            return Err(Error::internal(format!(
                "`{}` is not an ssh host",
                target.address
            )));
        };
        let jump_master = match &target.jump {
            Some(jump) => Some(JumpMaster::for_target(ssh_program, target, jump)?),
            None => None,
        };
        let route = target.jump.as_ref().map(|jump| Route {
            jump,
            socket: jump_master.as_ref().map(|master| master.socket()),
        });
        let destination_text = destination.to_string();
        let jump_text = target.jump.as_ref().map(ToString::to_string);
        let attempt = Attempt {
            destination: &destination_text,
            jump: jump_text.as_deref(),
            connect_timeout: target.connect_timeout,
        };
        let persist = target.ssh_persist;
        let (socket, control_dir, shared) = if persist.is_zero() {
            let control_dir = ControlDir::create()?;
            (control_dir.path().join("master"), Some(control_dir), None)
        } else {
            let shared =
                SharedSocket::for_host(ssh_program, target, destination, target.jump.as_ref())?;
            (shared.path.clone(), None, Some(shared))
        };
        let command_line = SshCommandLine::new(ssh_program, target, destination, &socket, route)?;
        let riding = |command_line: SshCommandLine, shared: SharedSocket, jump_master| Self {
            destination: destination_text.clone(),
            jump: jump_text.clone(),
            connect_timeout: target.connect_timeout,
            command_line,
            socket: shared.path.clone(),
            master: None,
            shared: Some(shared),
            persist,
            master_input: Arc::new(Mutex::new(None)),
            master_session: Mutex::new(None),
            has_rsync: OnceLock::new(),
            closing: AtomicBool::new(false),
            jump_master,
            control_dir: None,
        };
        // A shared master: ride the one that is up, or start one (under the host's lock, so
        // two commands at once start one between them). Started for a session, it carries
        // that session in the process that started it, as an own master would.
        let mut starting = None;
        if let Some(shared) = shared.as_ref()
            && !shared.is_alive()
        {
            let lock = shared.lock()?;
            if !shared.is_alive() {
                if session.is_none() {
                    shared.start_detached(&command_line, persist, &attempt)?;
                } else {
                    shared.clear_for_new_master(&command_line);
                    starting = Some(lock);
                }
            }
        }
        if let (Some(shared), None) = (&shared, &starting) {
            return Ok(riding(command_line, shared.clone(), jump_master));
        }
        let log_path = match &control_dir {
            Some(dir) => dir.path().join("master.log"),
            None => socket.with_extension("log"),
        };
        let log = File::create(&log_path)
            .map_err(|error| Error::io("create the ssh log", &log_path, error))?;
        let persist_seconds = (!persist.is_zero()).then(|| persist.as_secs().max(1));
        let mut master = Command::new(ssh_program);
        match &session {
            Some(argv) => master
                .args(command_line.master_running_args(wrapped_command(argv), persist_seconds))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped()),
            None => master
                .args(command_line.master_args())
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
        };
        let mut master = master
            .stderr(log)
            .spawn()
            .map_err(|error| spawn_error(ssh_program, error))?;
        let input = master.stdin.take();
        let carried = match (session, master.stdout.take()) {
            (Some(argv), Some(output)) => Some(CarriedSession { argv, output }),
            _ => None,
        };
        let transport = Self {
            destination: destination_text.clone(),
            jump: jump_text.clone(),
            connect_timeout: target.connect_timeout,
            command_line,
            socket: socket.clone(),
            master: Some(Mutex::new(master)),
            shared,
            persist,
            master_input: Arc::new(Mutex::new(input)),
            master_session: Mutex::new(carried),
            has_rsync: OnceLock::new(),
            closing: AtomicBool::new(false),
            jump_master,
            control_dir,
        };
        transport.wait_for_master(&socket, &log_path)?;
        if starting.is_some() {
            // The log only ever explains a failed login.
            let _ = std::fs::remove_file(&log_path);
        }
        Ok(transport)
    }

    /// The host as the user wrote it.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// Where this transport's own master's socket lives: private to it, removed on drop.
    /// `None` when it rides a shared master.
    pub fn control_dir(&self) -> Option<&Path> {
        self.control_dir.as_ref().map(ControlDir::path)
    }

    /// The master's socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// This transport's own ControlMaster's process id (its child until drop); `None` when
    /// it rides a shared master.
    pub fn master_pid(&self) -> Option<u32> {
        self.master
            .as_ref()
            .map(|master| master.lock().unwrap_or_else(PoisonError::into_inner).id())
    }

    /// A shared master can go while the transport waits between uses (its window ends when no
    /// channel is open, e.g. during a long build): each use makes sure it is up, starting a
    /// new one when it is not — a socket check, no process, when it is.
    fn ensure_shared(&self) -> Result<()> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        if shared.is_alive() {
            return Ok(());
        }
        shared.ensure(&self.command_line, self.persist, &self.attempt())
    }

    /// Closes the shared masters this transport rides, its host's and its jump host's, for
    /// good (`destroy`): the next command logs in again.
    pub fn close_shared(&self) {
        if let Some(shared) = &self.shared {
            shared.close(&self.command_line);
        }
        if let Some(jump) = &self.jump_master {
            jump.close();
        }
    }

    /// The master's socket appears once it is logged in; an exit before that is a failed login.
    /// On failure, `self` is dropped by the caller and closes what is left.
    fn wait_for_master(&self, socket: &Path, log_path: &Path) -> Result<()> {
        let hops = if self.jump.is_some() { 2 } else { 1 };
        let deadline = Instant::now() + self.connect_timeout * hops + LOGIN_SLACK;
        let (Some(master), Some(dir)) = (&self.master, socket.parent()) else {
            return Ok(());
        };
        // The socket wakes us as it appears; the pauses only pace the checks for an exit.
        let watch = EntryWatch::new(dir);
        let mut pause = Duration::from_millis(1);
        loop {
            if std::fs::symlink_metadata(socket).is_ok() {
                return Ok(());
            }
            let exited = master
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .try_wait()
                .map_err(|error| Error::internal("cannot wait for ssh").cause(error))?;
            if exited.is_some() {
                return Err(self.attempt().error(&read_log(log_path)));
            }
            if Instant::now() >= deadline {
                let mut error = self.attempt().timed_out();
                for line in read_log(log_path).lines().filter(|l| !l.trim().is_empty()) {
                    error = error.cause(line.trim());
                }
                return Err(error);
            }
            watch.wait(pause.min(deadline.saturating_duration_since(Instant::now())));
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    fn attempt(&self) -> Attempt<'_> {
        Attempt {
            destination: &self.destination,
            jump: self.jump.as_deref(),
            connect_timeout: self.connect_timeout,
        }
    }

    fn ssh_command(&self) -> Command {
        Command::new(&self.command_line.program)
    }
}

impl Transport for SshTransport {
    fn close_when_done(&self) {
        self.closing.store(true, Ordering::Relaxed);
    }

    fn run(&self, argv: &[String], stdin: &mut dyn Read) -> Result<TransportOutput> {
        if argv.is_empty() {
            return Err(Error::internal("no command to run over ssh"));
        }
        self.ensure_shared()?;
        let remote_command = remote_command_line(argv);
        let mut command = self.ssh_command();
        command.args(self.command_line.command_args(remote_command));
        let output = run_streaming(&mut command, stdin)
            .map_err(|error| spawn_error(&self.command_line.program, error))?;
        if output.status == 255 {
            return Err(self.attempt().error(&output.stderr).context(format!(
                "ssh to `{}` failed running `{}`",
                self.destination, argv[0]
            )));
        }
        Ok(output)
    }

    /// The session the master carries when `argv` is its command (the first time); else an
    /// ssh client through the master runs it.
    fn open_session(&self, argv: &[String]) -> Result<Box<dyn TransportSession>> {
        if argv.is_empty() {
            return Err(Error::internal("no command to run over ssh"));
        }
        self.ensure_shared()?;
        let carried = {
            let mut slot = self
                .master_session
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if slot.as_ref().is_some_and(|carried| carried.argv == argv) {
                slot.take()
            } else {
                None
            }
        };
        if let Some(carried) = carried {
            return Ok(Box::new(MasterSession::new(
                Arc::clone(&self.master_input),
                carried.output,
            )));
        }
        let remote_command = remote_command_line(argv);
        // Through the master's socket, no ssh process; an ssh client when that fails (an
        // OpenSSH without mux protocol 4), which also says what is wrong.
        if let Ok(session) = MuxSession::open(&self.socket, &remote_command) {
            return Ok(Box::new(session));
        }
        let mut command = self.ssh_command();
        command
            .args(self.command_line.command_args(remote_command))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        let child = command
            .spawn()
            .map_err(|error| spawn_error(&self.command_line.program, error))?;
        Ok(Box::new(ChildSession::new(child)?))
    }

    fn spawn(&self, argv: &[String]) -> Result<Child> {
        if argv.is_empty() {
            return Err(Error::internal("no command to run over ssh"));
        }
        self.ensure_shared()?;
        let mut command = self.ssh_command();
        command
            .args(self.command_line.command_args(remote_command_line(argv)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
            .spawn()
            .map_err(|error| spawn_error(&self.command_line.program, error))
    }

    fn has_rsync(&self) -> bool {
        // The host's side is asked through its hoist session (`RemoteHost::has_rsync`), not
        // with an ssh session of its own.
        *self
            .has_rsync
            .get_or_init(|| find_on_path("rsync").is_some())
    }

    fn rsync_files(&self, local_root: &Path, paths: &[String], remote_dir: &Path) -> Result<()> {
        file_copy::rsync_files(self, local_root, paths, remote_dir)
    }

    /// `ssh -O forward -L 127.0.0.1:LOCAL:127.0.0.1:PORT` on a local port found free just
    /// before (ssh takes no port 0 for `-L`; a port taken in between is tried again with
    /// another); the guard sends `-O cancel` for it.
    fn forward_port(&self, remote_port: u16) -> Result<PortForward> {
        port_forward::forward_port(self, remote_port)
    }
}

/// The session a master carries, not handed out yet.
#[derive(Debug)]
struct CarriedSession {
    argv: Vec<String>,
    output: ChildStdout,
}

impl Drop for SshTransport {
    /// Closes the master's stdin (its session, if any, ends), ends the master with SIGTERM
    /// (it closes its connection and socket), then reaps it, killing it if it does not go:
    /// no ssh process and no zombie outlives the transport. A signal, not `ssh -O exit`: one
    /// process fewer per host at the end of every command.
    fn drop(&mut self) {
        self.master_input
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if self.closing.load(Ordering::Relaxed) {
            self.close_shared();
        }
        let Some(master) = self.master.as_mut() else {
            // A shared master stays up for the next command.
            return;
        };
        let master = master.get_mut().unwrap_or_else(PoisonError::into_inner);
        if matches!(master.try_wait(), Ok(Some(_)) | Err(_)) {
            return;
        }
        // A shared master carrying our session is that session's process until the session
        // ends (its stdin closed above), then goes to the background and this process exits:
        // no signal, or the master would go too.
        let asked = self.shared.is_some()
            || i32::try_from(master.id()).ok().is_some_and(|pid| {
                nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                )
                .is_ok()
            });
        let deadline = Instant::now()
            + if asked {
                MASTER_EXIT_GRACE
            } else {
                Duration::ZERO
            };
        loop {
            match master.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = master.kill();
                    let _ = master.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
    }
}

/// `argv` as one line for the remote shell, each word quoted so it arrives as exactly one
/// argument.
fn remote_command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|word| shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ")
}

fn spawn_error(program: &Path, error: std::io::Error) -> Error {
    let not_found = error.kind() == std::io::ErrorKind::NotFound;
    let error = Error::failed(format!("cannot run `{}`", program.display())).cause(error);
    if not_found {
        error.hint("install OpenSSH's client and rsync (`apt-get install openssh-client rsync`)")
    } else {
        error
    }
}

fn read_log(path: &Path) -> String {
    File::open(path)
        .and_then(|file| read_tail(file, STDERR_TAIL_BYTES))
        .map(|tail| String::from_utf8_lossy(&tail).into_owned())
        .unwrap_or_default()
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate).is_ok_and(|metadata| {
                metadata.is_file() && metadata.permissions().mode() & 0o111 != 0
            })
        })
}

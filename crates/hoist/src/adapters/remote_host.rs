//! A host reached through a `Transport` (SSH, or this machine in tests). It runs nothing of
//! its own: every `Host`, `Runtime` and `Probe` method is one call of the same binary on
//! the host, `<root>/.hoist/bin/hoist host --root ROOT call`, with a JSON request on stdin
//! and a JSON response on stdout (`hostside::host_call`), so the host does exactly what a
//! `local:` host does. `provision` installs that binary first.

mod binary;
mod bootstrap;
mod host_build;
mod image_push;
mod lean_binary;
mod ports;
mod upload;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use hoist_core::{EnvName, HostAddress, ReleaseId};
use serde::de::DeserializeOwned;

use crate::adapters::transport::{Transport, TransportOutput, TransportSession};
use crate::error::{Error, Result};
use crate::hostside::host_call::{
    HostRequest, HostResponse, HostVersion, WireConfigFile, WireExecDir, WireExecOutput,
    WireLockOutcome, WireReleases, host_argv, installed_binary,
};
use crate::hostside::live_exec;
use crate::ports::host::{
    ConfigFile, ExecDir, ExecOutput, Host, HostFacts, HostReleases, LockHolder, LockOutcome,
    NewRelease, UploadReport,
};
use crate::ports::service_logs::{ExecStream, LogPage, LogQuery};
use crate::ports::{HostHandle, HostTarget};
use crate::source_tree::SourceTree;

pub use binary::shell_quote;
pub use host_build::{HOST_BUILD_NAME, host_binary_for};

/// blake3 (hex) of the copy of `binary` that hosts run (`lean_binary`): what a host's
/// `.hoist/bin/hoist` hashes to once installed.
pub fn host_copy_hash(binary: &Path) -> Result<String> {
    lean_binary::LeanBinary::of(binary).map(|lean| lean.hash)
}

/// The exit status of a command the host's shell cannot find.
const NOT_FOUND: i32 = 127;
/// The exit status of a command the host's shell found but cannot run (a damaged binary).
const NOT_EXECUTABLE: i32 = 126;
/// stderr lines quoted when a call gives no answer.
const STDERR_LINES: usize = 10;

#[derive(Debug, Clone)]
pub struct RemoteHost {
    /// One `hoist host serve` per host for the whole command, shared by the clones that
    /// serve as its host, runtime and probe: a call is a line each way, not a new process.
    /// Declared first: the last clone ends the session before it lets go of the transport.
    session: Arc<Mutex<Option<Box<dyn TransportSession>>>>,
    address: HostAddress,
    /// The deploy root on the host (absolute).
    root: PathBuf,
    transport: Arc<dyn Transport>,
    /// The hoist binary `provision` installs on the host.
    local_binary: PathBuf,
}

/// Whether a call may install hoist on a host that does not run this controller's.
#[derive(Debug, Clone, Copy)]
enum Install {
    Never,
    /// Yes; `adopt` accepts a root that holds files hoist did not put there.
    IfNeeded {
        adopt: bool,
    },
}

/// Why a session call got no answer.
enum SessionFailure {
    /// The host has no hoist yet, and the session waits to install it (`bootstrap`).
    InstallNeeded(bootstrap::InstallFacts),
    /// The host's shell could not find the binary (exit status 127).
    NotInstalled,
    /// A session that had just started died by a signal before it answered: the binary
    /// cannot run (damaged), unless it is the same as this controller's.
    Unrunnable(Error),
    /// The session ended or broke: the host, ssh or the connection went away.
    Lost(Error),
}

impl RemoteHost {
    /// `local_binary`: the spec's `host_binary`, or the running executable.
    pub fn new(
        address: HostAddress,
        root: PathBuf,
        transport: Arc<dyn Transport>,
        local_binary: PathBuf,
    ) -> Self {
        Self {
            session: Arc::new(Mutex::new(None)),
            address,
            root,
            transport,
            local_binary,
        }
    }

    /// A host of an environment: its address and root, and the binary to install — the
    /// spec's `host_binary`, else the host-only build beside the running executable
    /// (`host_build`), else the running executable.
    pub fn for_target(target: &HostTarget, transport: Arc<dyn Transport>) -> Result<Self> {
        Ok(Self::new(
            target.address.clone(),
            target.root.clone(),
            transport,
            Self::binary_for(target)?,
        ))
    }

    /// The binary `target`'s hosts get.
    fn binary_for(target: &HostTarget) -> Result<PathBuf> {
        Ok(match &target.host_binary {
            Some(binary) => binary.clone(),
            None => {
                host_binary_for(&std::env::current_exe().map_err(|e| {
                    Error::internal("cannot find the running hoist binary").cause(e)
                })?)
            }
        })
    }

    /// The command of `target`'s session (`<root>/.hoist/bin/hoist host --root ROOT serve`
    /// once this controller's binary is installed, `bootstrap`), for a transport that starts
    /// it as it connects; `None` when the root is unusable (the first call then says why).
    pub fn session_argv(target: &HostTarget) -> Option<Vec<String>> {
        let want = Self::binary_for(target)
            .ok()
            .and_then(|binary| host_copy_hash(&binary).ok());
        bootstrap::session_argv(&target.root, want.as_deref())
    }

    /// The host, runtime and probe of one host, all speaking through this one.
    pub fn handle(self) -> HostHandle {
        HostHandle {
            host: Box::new(self.clone()),
            runtime: Box::new(self.clone()),
            router: Box::new(self.clone()),
            probe: Box::new(self.clone()),
            supervisor: Box::new(self),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether files can go by rsync: rsync here and on the host. The host is asked through
    /// the hoist session already open there, which costs a line each way; an ssh session of
    /// its own for the question cost a process here, a session in sshd and a shell there.
    pub(crate) fn has_rsync(&self) -> bool {
        self.transport.has_rsync()
            && self
                .exec(&ExecDir::Root, "command -v rsync >/dev/null", &[])
                .is_ok_and(|output| output.status == 0)
    }

    /// `<root>/.hoist/bin/hoist`.
    pub fn remote_binary(&self) -> PathBuf {
        installed_binary(&self.root)
    }

    /// `hoist host --root ROOT <command…>` on the host.
    fn argv(&self, command: &[&str]) -> Result<Vec<String>> {
        if !self.root.is_absolute() {
            return Err(Error::failed(format!(
                "the deploy root `{}` of `{}` is not an absolute path",
                self.root.display(),
                self.address
            ))
            .hint("set the environment's `root` to an absolute path"));
        }
        host_argv(&self.remote_binary(), &self.root, command)
    }

    /// Runs one request on the host and decodes its answer, installing hoist first on a host
    /// that does not have it yet.
    fn call<T: DeserializeOwned>(&self, request: &HostRequest) -> Result<T> {
        self.call_with(request, Install::IfNeeded { adopt: false })
    }

    /// Like `call`, never installing (for the installer's own questions).
    fn call_once<T: DeserializeOwned>(&self, request: &HostRequest) -> Result<T> {
        self.call_with(request, Install::Never)
    }

    fn call_with<T: DeserializeOwned>(&self, request: &HostRequest, install: Install) -> Result<T> {
        let installing = match install {
            Install::Never => None,
            Install::IfNeeded { adopt } => Some(adopt),
        };
        let body = serde_json::to_vec(request)
            .map_err(|e| Error::internal("cannot encode a host request").cause(e))?;
        let mut answered = self.session_call(&body);
        if let Some(adopt) = installing {
            match answered {
                // A host without hoist whose session can install it: the request it read is
                // asked again once it runs; the long way when the session could not.
                Err(SessionFailure::InstallNeeded(facts)) => {
                    if !bootstrap::install(self, &facts, adopt) {
                        binary::ensure_installed(self, adopt, true)?;
                    }
                    answered = self.session_call(&body);
                }
                // A host never provisioned (its first contact is the lock): install, then retry.
                Err(SessionFailure::NotInstalled) => {
                    binary::ensure_installed(self, adopt, true)?;
                    answered = self.session_call(&body);
                }
                // A damaged binary: replaced, then retried; the right one crashing is an error.
                Err(SessionFailure::Unrunnable(error)) => {
                    if binary::ensure_installed(self, adopt, false)? == binary::Installed::Already {
                        return Err(error);
                    }
                    answered = self.session_call(&body);
                }
                _ => {}
            }
        }
        if matches!(answered, Err(SessionFailure::InstallNeeded(_))) {
            // A call that must not install runs on whatever binary is there, if any.
            answered = self.serve_as_is(&body);
        }
        match answered {
            Ok(line) => match (self.decode(&line), installing) {
                // An older hoist on the host does not know this request: install this
                // controller's, start a session on it, and ask again.
                (Err(error), Some(adopt)) if is_protocol_refusal(&error) => {
                    if binary::ensure_installed(self, adopt, false)? == binary::Installed::Already {
                        return Err(error);
                    }
                    self.end_session();
                    match self.session_call(&body) {
                        Ok(line) => self.decode(&line),
                        Err(SessionFailure::NotInstalled) => {
                            Err(self.not_installed("(the shell could not find it)"))
                        }
                        Err(SessionFailure::InstallNeeded(_)) => {
                            self.end_session_declining();
                            Err(self.not_installed("(the shell could not find it)"))
                        }
                        Err(SessionFailure::Lost(error) | SessionFailure::Unrunnable(error)) => {
                            Err(error)
                        }
                    }
                }
                (decoded, _) => decoded,
            },
            Err(SessionFailure::NotInstalled | SessionFailure::InstallNeeded(_)) => {
                Err(self.not_installed("(the shell could not find it)"))
            }
            Err(SessionFailure::Lost(error) | SessionFailure::Unrunnable(error)) => Err(error),
        }
    }

    /// Has a session that waits to install hoist serve on the binary that is there instead,
    /// and asks it `body`.
    fn serve_as_is(&self, body: &[u8]) -> std::result::Result<Vec<u8>, SessionFailure> {
        match self.with_session(|session| bootstrap::serve_as_is(session, body)) {
            Some(Ok(Some(line))) => Ok(line),
            _ => {
                self.end_session();
                Err(SessionFailure::NotInstalled)
            }
        }
    }

    /// Ends a session that waits to install hoist, telling it to install nothing.
    fn end_session_declining(&self) {
        if let Some(mut session) = self.take_session() {
            bootstrap::decline(session.as_mut());
        }
    }

    /// `work` on the open session; `None` when there is none.
    fn with_session<T>(&self, work: impl FnOnce(&mut dyn TransportSession) -> T) -> Option<T> {
        let mut guard = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_mut().map(|session| work(session.as_mut()))
    }

    /// Closes the session, so the next call starts one on the binary installed now.
    fn end_session(&self) {
        drop(self.take_session());
    }

    /// The open session, taken out (the lock is not held while it ends).
    fn take_session(&self) -> Option<Box<dyn TransportSession>> {
        self.session
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Sends one request line on the session (opening it if needed) and reads one answer line.
    fn session_call(&self, body: &[u8]) -> std::result::Result<Vec<u8>, SessionFailure> {
        let mut guard = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = guard.is_none();
        let session = match guard.as_mut() {
            Some(session) => session,
            None => {
                // No copy can be made: any binary there serves.
                let want = host_copy_hash(&self.local_binary).ok();
                let argv = match bootstrap::session_argv(&self.root, want.as_deref()) {
                    Some(argv) => argv,
                    // Says why the root is unusable.
                    None => self.argv(&["serve"]).map_err(SessionFailure::Lost)?,
                };
                let session = self
                    .transport
                    .open_session(&argv)
                    .map_err(SessionFailure::Lost)?;
                guard.insert(session)
            }
        };
        let exchanged = session.exchange(body);
        if let Ok(Some(line)) = exchanged {
            return match bootstrap::install_needed(&line) {
                Some(facts) => Err(SessionFailure::InstallNeeded(facts)),
                None => Ok(line),
            };
        }
        // The session is over: learn how it ended, and open a new one next time.
        let code = guard.take().and_then(|mut session| session.exit_status());
        if matches!(code, Some(NOT_FOUND | NOT_EXECUTABLE)) {
            return Err(SessionFailure::NotInstalled);
        }
        let why = match exchanged {
            Err(error) => error.to_string(),
            Ok(_) => format!(
                "the session ended (exit status {})",
                code.map_or("none".to_owned(), |c| c.to_string())
            ),
        };
        // Killed by a signal: no status here, 128 + the signal from a shell over ssh.
        if fresh && matches!(code, None | Some(129..=191)) {
            return Err(SessionFailure::Unrunnable(
                Error::failed(format!(
                    "hoist on `{}` at `{}` died as it started",
                    self.address,
                    self.remote_binary().display()
                ))
                .cause(why)
                .hint("`hoist provision ENV` installs a fresh copy"),
            ));
        }
        Err(SessionFailure::Lost(
            Error::failed(format!("lost the connection to `{}`", self.address))
                .cause(why)
                .hint("check that the host and its sshd are up, then run the command again"),
        ))
    }

    /// A response line: its value, or the host's error with the host named.
    fn decode<T: DeserializeOwned>(&self, line: &[u8]) -> Result<T> {
        let response: HostResponse = serde_json::from_slice(line).map_err(|e| {
            Error::internal(format!(
                "`{}` answered something that is not a response",
                self.address
            ))
            .cause(e)
            .hint("`hoist provision ENV` installs this controller's hoist on the host")
        })?;
        response.into_result().map_err(|mut error| {
            error.message = format!("{}: {}", self.address, error.message);
            error
        })
    }

    fn not_installed(&self, detail: &str) -> Error {
        Error::failed(format!(
            "hoist is not installed on `{}` at `{}`",
            self.address,
            self.remote_binary().display()
        ))
        .cause(detail.to_owned())
        .hint("`hoist provision ENV` installs it")
    }

    /// The response in a command's output: its value, or the host's error with the host
    /// named. Kind, causes and hints come back as the host sent them.
    fn answer<T: DeserializeOwned>(&self, output: &TransportOutput, command: &str) -> Result<T> {
        let last_line = output
            .stdout
            .split(|byte| *byte == b'\n')
            .rev()
            .find(|line| !line.iter().all(u8::is_ascii_whitespace));
        let response = last_line.and_then(|line| serde_json::from_slice::<HostResponse>(line).ok());
        match response {
            Some(response) => response.into_result().map_err(|mut error| {
                error.message = format!("{}: {}", self.address, error.message);
                error
            }),
            None if output.status == NOT_FOUND => Err(Error::failed(format!(
                "hoist is not installed on `{}` at `{}`",
                self.address,
                self.remote_binary().display()
            ))
            .cause(last_lines(&output.stderr, STDERR_LINES))
            .hint("`hoist provision ENV` installs it")),
            None => Err(Error::internal(format!(
                "`hoist host {command}` on `{}` gave no answer (exit status {})",
                self.address, output.status
            ))
            .cause(last_lines(&output.stderr, STDERR_LINES))
            .hint("`hoist provision ENV` installs this controller's hoist on the host")),
        }
    }
}

/// The host could not read the request: it runs a hoist that predates it.
fn is_protocol_refusal(error: &Error) -> bool {
    error
        .message
        .contains("cannot read the request to `hoist host call`")
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let text = lines[lines.len().saturating_sub(count)..].join("\n");
    if text.is_empty() {
        "(no output)".to_owned()
    } else {
        text
    }
}

impl Host for RemoteHost {
    fn address(&self) -> &HostAddress {
        &self.address
    }

    fn close_connection_when_done(&self) {
        self.transport.close_when_done();
    }

    fn provision(&self, adopt: bool) -> Result<HostFacts> {
        // A host without hoist gets it through its session (`bootstrap`); the check after
        // replaces another build's.
        let _: HostVersion = self.call_with(&HostRequest::Version, Install::IfNeeded { adopt })?;
        binary::ensure_installed(self, adopt, false)?;
        self.call_with(
            &HostRequest::Provision { adopt },
            Install::IfNeeded { adopt },
        )
    }

    fn lock(&self, holder: &LockHolder, adopt: bool) -> Result<LockOutcome> {
        let holder = holder.clone();
        let request = HostRequest::Lock { holder, adopt };
        let outcome: WireLockOutcome = self.call_with(&request, Install::IfNeeded { adopt })?;
        Ok(outcome.into())
    }

    fn unlock(&self, holder: &LockHolder) -> Result<()> {
        let holder = holder.clone();
        // Never installs: after `destroy` there is no root to unlock, and none to bring back.
        self.call_once(&HostRequest::Unlock { holder })
    }

    fn write_config(&self, files: &[ConfigFile]) -> Result<()> {
        let files = files.iter().map(WireConfigFile::from).collect();
        self.call(&HostRequest::WriteConfig { files })
    }

    fn releases(&self) -> Result<HostReleases> {
        let releases: WireReleases = self.call(&HostRequest::Releases)?;
        Ok(releases.into())
    }

    fn upload(&self, release: &NewRelease, source: &SourceTree) -> Result<UploadReport> {
        upload::upload(self, release, source)
    }

    fn exec(&self, dir: &ExecDir, command: &str, env: &[(String, String)]) -> Result<ExecOutput> {
        let request = HostRequest::Exec {
            dir: WireExecDir::from(dir),
            command: command.to_owned(),
            env: env.to_vec(),
        };
        let output: WireExecOutput = self.call(&request)?;
        Ok(output.into())
    }

    fn mark_ready(&self, id: &ReleaseId) -> Result<()> {
        self.call(&HostRequest::MarkReady { id: id.clone() })
    }

    fn mark_failed(&self, id: &ReleaseId, reason: &str) -> Result<()> {
        let request = HostRequest::MarkFailed {
            id: id.clone(),
            reason: reason.to_owned(),
        };
        self.call(&request)
    }

    fn discard_incomplete(&self) -> Result<Vec<ReleaseId>> {
        self.call(&HostRequest::DiscardIncomplete)
    }

    fn switch_live(&self, id: &ReleaseId) -> Result<()> {
        self.call(&HostRequest::SwitchLive { id: id.clone() })
    }

    fn remove_release(&self, id: &ReleaseId) -> Result<()> {
        self.call(&HostRequest::RemoveRelease { id: id.clone() })
    }

    fn prune(&self, keep: usize) -> Result<Vec<ReleaseId>> {
        self.call(&HostRequest::Prune { keep })
    }

    fn audit(&self, line: &serde_json::Value) -> Result<()> {
        let line = line.clone();
        self.call(&HostRequest::Audit { line })
    }

    fn destroy(&self) -> Result<()> {
        self.call(&HostRequest::Destroy)
    }

    fn receive_image(&self, image: &str, engine: Option<&str>) -> Result<()> {
        if image.starts_with(crate::hostside::container_engine::BUILT_IMAGES) {
            return self.push_image(image, engine);
        }
        self.call(&HostRequest::PullImage {
            image: image.to_owned(),
            engine: engine.map(str::to_owned),
        })
    }

    fn remove_volumes(&self, project: &str, engine: Option<&str>) -> Result<Vec<String>> {
        self.call(&HostRequest::RemoveVolumes {
            project: project.to_owned(),
            engine: engine.map(str::to_owned),
        })
    }

    fn remove_images(&self, images: &[String], engine: Option<&str>) -> Result<Vec<String>> {
        self.call(&HostRequest::RemoveImages {
            images: images.to_vec(),
            engine: engine.map(str::to_owned),
        })
    }

    fn service_logs(&self, query: &LogQuery) -> Result<LogPage> {
        let query = query.clone();
        self.call(&HostRequest::ServiceLogs { query })
    }

    /// `hoist host --root R exec --env E --release ID -- COMMAND…` over the transport (each
    /// word quoted for the remote shell), its stdout and stderr read as they come.
    fn exec_live(
        &self,
        env: &EnvName,
        command: &[String],
        output: &mut dyn FnMut(ExecStream, &[u8]),
    ) -> Result<i32> {
        let release: ReleaseId = self.call(&HostRequest::ExecTarget)?;
        let mut words = vec![
            "exec",
            "--env",
            env.as_str(),
            "--release",
            release.as_str(),
            "--",
        ];
        words.extend(command.iter().map(String::as_str));
        let child = self.transport.spawn(&self.argv(&words)?)?;
        let status = live_exec::stream_child(child, output).map_err(|error| {
            Error::internal(format!("cannot read the output from `{}`", self.address)).cause(error)
        })?;
        Ok(live_exec::exit_code(status))
    }
}

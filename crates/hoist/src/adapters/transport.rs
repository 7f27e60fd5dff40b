//! How a remote host is reached: run a command there (stdin streamed in, output back), and
//! copy files there with rsync. `RemoteHost` speaks the `hoist host` protocol over any
//! transport; `SshTransport` is the real one, `LocalProcessTransport` runs the same
//! protocol against this machine (tests).

mod child_session;

use std::io::Read;
use std::path::Path;

use crate::error::Result;

pub use child_session::ChildSession;

/// What a remote command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportOutput {
    /// Exit status; -1 when killed by a signal.
    pub status: i32,
    pub stdout: Vec<u8>,
    /// The last 64 KiB of stderr, lossily decoded.
    pub stderr: String,
}

pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Runs `argv` on the host. Each element arrives as exactly one argument: the transport
    /// quotes for the remote shell. `stdin` is streamed, never read whole into memory.
    fn run(&self, argv: &[String], stdin: &mut dyn Read) -> Result<TransportOutput>;

    /// Opens a long-lived session running `argv` on the host — `hoist host serve`, which
    /// answers many requests over one channel — and returns at once. A command the host
    /// cannot find ends the session with exit status 127.
    fn open_session(&self, argv: &[String]) -> Result<Box<dyn TransportSession>>;

    /// Starts `argv` on the host with stdin empty and stdout and stderr piped to the
    /// returned child (the local process carrying it), for output read as it comes. The
    /// child's exit status is the command's.
    fn spawn(&self, argv: &[String]) -> Result<std::process::Child>;

    /// Whether `rsync_files` can use rsync as far as this transport knows: present here (an
    /// SSH transport leaves asking the host to its caller, who has a session open there).
    fn has_rsync(&self) -> bool;

    /// Copies `paths` (relative to `local_root`, files only) into `remote_dir` on the host
    /// with rsync, keeping modes and times; existing files there are replaced, never
    /// written through (rsync writes a temp file and renames it).
    fn rsync_files(&self, local_root: &Path, paths: &[String], remote_dir: &Path) -> Result<()>;

    /// Forwards a loopback port here to `remote_port` on the host's loopback, through the
    /// same connection, until the returned guard is dropped.
    fn forward_port(&self, remote_port: u16) -> Result<PortForward>;

    /// Closes the connection for good once the transport is let go, even one kept up for
    /// later commands (`destroy`: nothing of the environment stays behind).
    fn close_when_done(&self) {}
}

/// A forwarded port: `local_port` reaches the host's port while this lives.
pub struct PortForward {
    pub local_port: u16,
    cancel: Option<Box<dyn FnOnce() + Send>>,
}

impl PortForward {
    pub fn new(local_port: u16, cancel: impl FnOnce() + Send + 'static) -> Self {
        Self {
            local_port,
            cancel: Some(Box::new(cancel)),
        }
    }

    /// The same port on this machine (a transport that runs on this machine).
    pub fn direct(port: u16) -> Self {
        Self {
            local_port: port,
            cancel: None,
        }
    }
}

impl std::fmt::Debug for PortForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortForward")
            .field("local_port", &self.local_port)
            .finish_non_exhaustive()
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel();
        }
    }
}

/// `line` and its newline in one buffer, for one write: a request in two small writes can
/// leave in two TCP segments, and Nagle's algorithm holds the second until the first is
/// acknowledged — up to a delayed ACK's 40 ms on every call.
pub(crate) fn request_line(line: &[u8]) -> Vec<u8> {
    let mut buffer = Vec::with_capacity(line.len() + 1);
    buffer.extend_from_slice(line);
    buffer.push(b'\n');
    buffer
}

/// A long-lived command on the host answering requests, one line each way.
pub trait TransportSession: Send + std::fmt::Debug {
    /// Sends `line` and a newline, then reads one answer line (newline included). `None`:
    /// the session is over — its command exited or the connection went away.
    fn exchange(&mut self, line: &[u8]) -> std::io::Result<Option<Vec<u8>>>;

    /// Writes all of `data` as it is (no newline added), then reads one answer line; `None`
    /// as for `exchange`.
    fn stream(&mut self, data: &mut dyn Read) -> std::io::Result<Option<Vec<u8>>>;

    /// Once the session is over: how its command exited, when known.
    fn exit_status(&mut self) -> Option<i32>;
}

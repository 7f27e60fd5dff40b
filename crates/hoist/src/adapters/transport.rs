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

    /// Whether `rsync_files` can use rsync (present here and on the host).
    fn has_rsync(&self) -> bool;

    /// Copies `paths` (relative to `local_root`, files only) into `remote_dir` on the host
    /// with rsync, keeping modes and times; existing files there are replaced, never
    /// written through (rsync writes a temp file and renames it).
    fn rsync_files(&self, local_root: &Path, paths: &[String], remote_dir: &Path) -> Result<()>;
}

/// A long-lived command on the host answering requests, one line each way.
pub trait TransportSession: Send + std::fmt::Debug {
    /// Sends `line` and a newline, then reads one answer line (newline included). `None`:
    /// the session is over — its command exited or the connection went away.
    fn exchange(&mut self, line: &[u8]) -> std::io::Result<Option<Vec<u8>>>;

    /// Once the session is over: how its command exited, when known.
    fn exit_status(&mut self) -> Option<i32>;
}

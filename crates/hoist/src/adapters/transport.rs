//! How a remote host is reached: run a command there (stdin streamed in, output back), and
//! copy files there with rsync. `RemoteHost` speaks the `hoist host` protocol over any
//! transport; `SshTransport` is the real one, `LocalProcessTransport` runs the same
//! protocol against this machine (tests).

use std::io::Read;
use std::path::Path;

use crate::error::Result;

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

    /// Starts `argv` on the host with stdin and stdout piped (stderr discarded) and returns
    /// at once: for a long-lived `hoist host serve` session that answers many requests over
    /// one channel. A command the host cannot find makes the child exit with 127.
    fn spawn(&self, argv: &[String]) -> Result<std::process::Child>;

    /// Whether `rsync_files` can use rsync (present here and on the host).
    fn has_rsync(&self) -> bool;

    /// Copies `paths` (relative to `local_root`, files only) into `remote_dir` on the host
    /// with rsync, keeping modes and times; existing files there are replaced, never
    /// written through (rsync writes a temp file and renames it).
    fn rsync_files(&self, local_root: &Path, paths: &[String], remote_dir: &Path) -> Result<()>;
}

//! Files to a host with rsync over the transport's master: the listed paths only, each sent
//! whole (`--ignore-times`), the remote path inside rsync's protocol, never through a shell.

use std::ffi::OsString;
use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use super::diagnosis::ConnectFailure;
use super::streaming::run_streaming;
use super::{SshTransport, spawn_error};
use crate::error::{Error, Result};

pub(super) fn rsync_files(
    transport: &SshTransport,
    local_root: &Path,
    paths: &[String],
    remote_dir: &Path,
) -> Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    transport.ensure_shared()?;
    // A relative source with a `:` would read as remote to rsync; `./` keeps it local.
    let mut source = if local_root.is_absolute() {
        OsString::new()
    } else {
        OsString::from("./")
    };
    source.push(local_root.as_os_str());
    source.push("/");
    let mut target = OsString::from(format!("{}:", transport.command_line.rsync_host()));
    target.push(remote_dir.as_os_str());
    target.push("/");
    let mut list = Vec::new();
    for path in paths {
        list.extend_from_slice(path.as_bytes());
        list.push(0);
    }
    let mut command = Command::new("rsync");
    // --ignore-times: every listed file is sent, even one whose size and time match the
    // file already there (the caller lists what changed). --protect-args: the remote path
    // travels in rsync's protocol, not through a shell.
    command
        .args([
            "-a",
            "--ignore-times",
            "--no-implied-dirs",
            "--protect-args",
            "--from0",
            "--files-from=-",
            "-e",
        ])
        .arg(transport.command_line.rsync_shell()?)
        .arg("--")
        .arg(&source)
        .arg(&target);
    let output = run_streaming(&mut command, &mut Cursor::new(list))
        .map_err(|error| spawn_error(Path::new("rsync"), error))?;
    if output.status == 0 {
        return Ok(());
    }
    let context = format!(
        "cannot copy files to `{}:{}` with rsync",
        transport.destination,
        remote_dir.display()
    );
    if ConnectFailure::from_stderr(&output.stderr) != ConnectFailure::Other {
        return Err(transport.attempt().error(&output.stderr).context(context));
    }
    let mut error = Error::failed(format!("{context} (exit {})", output.status));
    for line in output.stderr.lines().filter(|l| !l.trim().is_empty()) {
        error = error.cause(line.trim());
    }
    Err(error)
}

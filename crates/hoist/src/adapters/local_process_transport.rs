//! A `Transport` to this very machine: argv runs as a local process, files go with local
//! rsync. It lets the whole remote protocol (`RemoteHost` → `hoist host …`) run through the
//! real binary without SSH, in tests and for debugging.

use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;

use crate::adapters::transport::{
    ChildSession, PortForward, Transport, TransportOutput, TransportSession,
};
use crate::error::{Error, Result};
use crate::hostside::exec::keep_last;

/// stderr kept: the end says what went wrong.
const KEPT_STDERR: usize = 64 * 1024;
/// The exit status a shell gives a command it cannot find, as over SSH.
const NOT_FOUND: i32 = 127;

#[derive(Debug, Clone)]
pub struct LocalProcessTransport {
    rsync: bool,
    /// Variables set for every command, as a host's login would (tests give each "host" its
    /// own `XDG_CACHE_HOME`).
    env: Vec<(String, String)>,
}

impl Default for LocalProcessTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalProcessTransport {
    /// Uses rsync when it runs here.
    pub fn new() -> Self {
        let rsync = Command::new("rsync")
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        Self {
            rsync,
            env: Vec::new(),
        }
    }

    /// Never uses rsync, so uploads take the streaming fallback.
    pub fn without_rsync() -> Self {
        Self {
            rsync: false,
            env: Vec::new(),
        }
    }

    /// Sets `name` to `value` for every command this transport runs.
    #[must_use]
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }
}

impl Transport for LocalProcessTransport {
    fn open_session(&self, argv: &[String]) -> Result<Box<dyn TransportSession>> {
        let Some((program, args)) = argv.split_first() else {
            return Err(Error::internal("cannot run an empty command"));
        };
        let spawn = |program: &str, args: &[String]| {
            Command::new(program)
                .args(args)
                .envs(self.env.iter().map(|(name, value)| (name, value)))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
        };
        // Like a shell that cannot find the program: a child that exits with 127; one that
        // cannot run it (not executable, damaged): 126.
        let child = match spawn(program, args) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                spawn("sh", &["-c".to_owned(), "exit 127".to_owned()])
            }
            Err(error)
                if error.kind() == io::ErrorKind::PermissionDenied
                    || error.raw_os_error() == Some(nix::libc::ENOEXEC) =>
            {
                spawn("sh", &["-c".to_owned(), "exit 126".to_owned()])
            }
            spawned => spawned,
        }
        .map_err(|error| Error::failed(format!("cannot run `{program}`")).cause(error))?;
        Ok(Box::new(ChildSession::new(child)?))
    }

    fn spawn(&self, argv: &[String]) -> Result<std::process::Child> {
        let Some((program, args)) = argv.split_first() else {
            return Err(Error::internal("cannot run an empty command"));
        };
        Command::new(program)
            .args(args)
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| Error::failed(format!("cannot run `{program}`")).cause(error))
    }

    fn run(&self, argv: &[String], stdin: &mut dyn Read) -> Result<TransportOutput> {
        let Some((program, args)) = argv.split_first() else {
            return Err(Error::internal("cannot run an empty command"));
        };
        let spawned = Command::new(program)
            .args(args)
            .envs(self.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(TransportOutput {
                    status: NOT_FOUND,
                    stdout: Vec::new(),
                    stderr: format!("{program}: not found"),
                });
            }
            Err(error) => {
                return Err(Error::failed(format!("cannot run `{program}`")).cause(error));
            }
        };
        let (Some(mut input), Some(mut stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(Error::internal(format!(
                "`{program}` started without its pipes"
            )));
        };
        // stdout and stderr drain on their own threads while stdin is fed here, so a child
        // that writes before it has read everything cannot deadlock against us.
        let out = thread::spawn(move || {
            let mut bytes = Vec::new();
            stdout.read_to_end(&mut bytes).map(|_| bytes)
        });
        let err = thread::spawn(move || keep_last(&mut stderr, KEPT_STDERR));
        let fed = io::copy(stdin, &mut input).and_then(|_| input.flush());
        drop(input);
        let status = child
            .wait()
            .map_err(|e| Error::internal(format!("cannot wait for `{program}`")).cause(e))?;
        let stdout = join(out)?;
        let stderr = join(err)?;
        match fed {
            // The child stopped reading (it answered early, or failed): its output says why.
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {}
            Err(error) => {
                return Err(Error::internal(format!("cannot feed `{program}`")).cause(error));
            }
            Ok(()) => {}
        }
        Ok(TransportOutput {
            status: status.code().unwrap_or(-1),
            stdout,
            stderr,
        })
    }

    fn has_rsync(&self) -> bool {
        self.rsync
    }

    fn rsync_files(&self, local_root: &Path, paths: &[String], remote_dir: &Path) -> Result<()> {
        let mut list = Vec::new();
        for path in paths {
            list.extend_from_slice(path.as_bytes());
            list.push(0);
        }
        let (Some(from), Some(to)) = (local_root.to_str(), remote_dir.to_str()) else {
            return Err(Error::failed("rsync needs UTF-8 paths"));
        };
        // `--no-implied-dirs`: the directories exist (prepared, modes set later); rsync
        // must only create the listed files.
        let argv = [
            "rsync",
            "-a",
            "--no-implied-dirs",
            "--from0",
            "--files-from=-",
            &format!("{}/", from.trim_end_matches('/')),
            &format!("{}/", to.trim_end_matches('/')),
        ]
        .map(str::to_owned);
        let output = self.run(&argv, &mut list.as_slice())?;
        if output.status != 0 {
            return Err(Error::failed(format!(
                "rsync to `{}` exited with status {}",
                remote_dir.display(),
                output.status
            ))
            .cause(output.stderr.trim_end()));
        }
        Ok(())
    }

    fn forward_port(&self, remote_port: u16) -> Result<PortForward> {
        Ok(PortForward::direct(remote_port))
    }
}

fn join<T>(handle: thread::JoinHandle<io::Result<T>>) -> Result<T> {
    handle
        .join()
        .map_err(|_| Error::internal("a pipe reader panicked"))?
        .map_err(|e| Error::internal("cannot read a command's output").cause(e))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn argv(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|part| (*part).to_owned()).collect()
    }

    #[test]
    fn runs_a_command_with_stdin_and_both_outputs() {
        let transport = LocalProcessTransport::new();
        let output = transport
            .run(
                &argv(&["sh", "-c", "tr a-z A-Z; echo oops >&2; exit 3"]),
                &mut &b"hello"[..],
            )
            .unwrap();
        assert_eq!(output.status, 3);
        assert_eq!(output.stdout, b"HELLO");
        assert_eq!(output.stderr, "oops\n");
    }

    #[test]
    fn a_missing_program_is_status_127_and_an_early_exit_is_no_error() {
        let transport = LocalProcessTransport::new();
        let missing = transport
            .run(&argv(&["/nonexistent/hoist", "host"]), &mut io::empty())
            .unwrap();
        assert_eq!(missing.status, 127);
        let big = vec![b'x'; 4 * 1024 * 1024];
        let early = transport
            .run(&argv(&["sh", "-c", "echo done"]), &mut big.as_slice())
            .unwrap();
        assert_eq!((early.status, early.stdout.as_slice()), (0, &b"done\n"[..]));
        assert!(transport.run(&[], &mut io::empty()).is_err());
    }

    #[test]
    fn rsync_copies_only_the_listed_files_into_existing_dirs() {
        let transport = LocalProcessTransport::new();
        if !transport.has_rsync() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        fs::create_dir_all(from.join("a b")).unwrap();
        fs::create_dir_all(to.join("a b")).unwrap();
        fs::write(from.join("a b/one"), "1").unwrap();
        fs::write(from.join("two"), "2").unwrap();
        fs::write(from.join("left out"), "3").unwrap();
        transport
            .rsync_files(&from, &["a b/one".to_owned(), "two".to_owned()], &to)
            .unwrap();
        assert_eq!(fs::read_to_string(to.join("a b/one")).unwrap(), "1");
        assert_eq!(fs::read_to_string(to.join("two")).unwrap(), "2");
        assert!(!to.join("left out").exists());
        let source = from.join("two").metadata().unwrap();
        assert_eq!(to.join("two").metadata().unwrap().mtime(), source.mtime());
        let error = transport
            .rsync_files(&from, &["absent".to_owned()], &to)
            .unwrap_err();
        assert!(error.message.contains("rsync to"), "{error}");
        assert!(!LocalProcessTransport::without_rsync().has_rsync());
    }
}

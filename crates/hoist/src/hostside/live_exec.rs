//! A one-off command in the live release of a deploy root (`hoist exec`), with the
//! environment an instance gets: only PATH, HOME and LANG from hoist's own, then the host's
//! `config/env` (vars and secrets), `HOIST_ENV` and `HOIST_RELEASE`. The command is a
//! program and its arguments, run without a shell, its stdin empty. A local host streams
//! its output through `run_streaming`; a remote one runs `hoist host --root R exec`, which
//! hands its own stdout and stderr to the command (`run_inheriting`) for ssh to carry back.

use std::io::{self, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;

use hoist_core::{EnvName, ReleaseId};

use crate::error::{Error, Result};
use crate::hostside::layout::Layout;
use crate::hostside::process_runtime::configured_variables;
use crate::ports::service_logs::ExecStream;

/// What an instance inherits from hoist's environment (as `process_runtime` starts them).
const INHERITED_VARIABLES: [&str; 3] = ["PATH", "HOME", "LANG"];
/// A shell's statuses for a command it cannot find or cannot execute.
const NOT_FOUND: i32 = 127;
const NOT_EXECUTABLE: i32 = 126;

/// `argv` ready to start in the live release (or in `release`, which must still be there).
pub fn command(
    layout: &Layout,
    env: &EnvName,
    release: Option<&ReleaseId>,
    argv: &[String],
) -> Result<Command> {
    let Some((program, arguments)) = argv.split_first() else {
        return Err(Error::failed("no command to run")
            .hint("give it after `--`, e.g. `hoist exec ENV -- ls -la`"));
    };
    let release = match release {
        Some(release) => release.clone(),
        None => live_release(layout)?,
    };
    let directory = layout.release_dir(&release);
    if !directory.is_dir() {
        return Err(Error::failed(format!(
            "release `{release}` is not on this host (`{}`)",
            directory.display()
        ))
        .hint("run the command again: the live release changed meanwhile"));
    }
    let mut command = Command::new(program);
    command
        .args(arguments)
        .current_dir(&directory)
        .env_clear()
        .stdin(Stdio::null());
    for name in INHERITED_VARIABLES {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
        .envs(configured_variables(layout.root(), Some(&release))?)
        .env("HOIST_ENV", env.as_str())
        .env("HOIST_RELEASE", release.as_str());
    Ok(command)
}

/// The release `live` points at; an error when there is none.
pub fn live_release(layout: &Layout) -> Result<ReleaseId> {
    layout.live()?.ok_or_else(|| {
        Error::failed(format!("no live release in `{}`", layout.root().display()))
            .hint("deploy first: `hoist deploy ENV`")
    })
}

/// Runs `command` (from `command`) and hands its output to `output` as it comes; returns
/// its exit status. A program that cannot be started says so on its stderr and counts as
/// status 127 or 126, as a shell would.
pub fn run_streaming(
    mut command: Command,
    output: &mut dyn FnMut(ExecStream, &[u8]),
) -> Result<i32> {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    // Instances, hooks and the host's own processes run at the priority the controller
    // started with, not the one it lowered itself to (`cpu_priority`).
    let _normal = crate::cpu_priority::NormalPriority::for_spawn();
    match command.spawn() {
        Ok(child) => {
            let status = stream_child(child, output)
                .map_err(|e| Error::internal("cannot read the command's output").cause(e))?;
            Ok(exit_code(status))
        }
        Err(error) => {
            let (message, status) = refusal(&command, &error)?;
            output(ExecStream::Stderr, message.as_bytes());
            Ok(status)
        }
    }
}

/// Runs `command` with this process's stdout and stderr (for `hoist host exec`).
pub fn run_inheriting(mut command: Command) -> Result<i32> {
    command.stdout(Stdio::inherit()).stderr(Stdio::inherit());
    match command.status() {
        Ok(status) => Ok(exit_code(status)),
        Err(error) => {
            let (message, status) = refusal(&command, &error)?;
            eprint_line(&message);
            Ok(status)
        }
    }
}

#[expect(
    clippy::print_stderr,
    reason = "`hoist host exec` has the command's stderr, which is where this belongs"
)]
fn eprint_line(message: &str) {
    eprint!("{message}");
}

/// The message and shell status for a program that could not be started; other failures
/// are errors.
fn refusal(command: &Command, error: &io::Error) -> Result<(String, i32)> {
    let program = command.get_program().to_string_lossy().into_owned();
    let status = match error.kind() {
        io::ErrorKind::NotFound => NOT_FOUND,
        io::ErrorKind::PermissionDenied => NOT_EXECUTABLE,
        _ => {
            return Err(Error::failed(format!("cannot run `{program}`")).cause(error));
        }
    };
    Ok((format!("hoist: cannot run `{program}`: {error}\n"), status))
}

/// Reads the child's stdout and stderr as they come (each on a thread, so neither pipe can
/// fill and stall it), hands every chunk to `output` on this thread, then waits for it.
pub fn stream_child(
    mut child: Child,
    output: &mut dyn FnMut(ExecStream, &[u8]),
) -> io::Result<ExitStatus> {
    let pipes: [(ExecStream, Option<Box<dyn Read + Send>>); 2] = [
        (
            ExecStream::Stdout,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            ExecStream::Stderr,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ];
    let (sender, chunks) = mpsc::channel::<(ExecStream, Vec<u8>)>();
    std::thread::scope(|scope| {
        for (stream, pipe) in pipes {
            let Some(mut pipe) = pipe else { continue };
            let sender = sender.clone();
            scope.spawn(move || {
                let mut buffer = [0_u8; 8192];
                loop {
                    match pipe.read(&mut buffer) {
                        Ok(0) => break,
                        Ok(read) => {
                            if sender.send((stream, buffer[..read].to_vec())).is_err() {
                                break;
                            }
                        }
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
            });
        }
        drop(sender);
        for (stream, chunk) in chunks {
            output(stream, &chunk);
        }
    });
    child.wait()
}

/// The status as a shell reports it: the exit code, or 128 + the signal.
pub fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|signal| 128 + signal))
        .unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with_live(env_file: &str) -> (tempfile::TempDir, Layout, ReleaseId) {
        let temp = tempfile::tempdir().unwrap();
        let layout = Layout::open(temp.path().join("root"));
        let release: ReleaseId = "20261205T100000Z-0123abcd".parse().unwrap();
        std::fs::create_dir_all(layout.release_dir(&release)).unwrap();
        std::fs::create_dir_all(layout.config_dir()).unwrap();
        std::fs::write(layout.config_dir().join("env"), env_file).unwrap();
        std::os::unix::fs::symlink(format!("releases/{release}"), layout.live_link()).unwrap();
        (temp, layout, release)
    }

    fn run(layout: &Layout, argv: &[&str]) -> (i32, String, String) {
        let argv: Vec<String> = argv.iter().map(|a| (*a).to_owned()).collect();
        let env: EnvName = "dev".parse().unwrap();
        let command = command(layout, &env, None, &argv).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = run_streaming(command, &mut |stream, bytes| match stream {
            ExecStream::Stdout => out.extend_from_slice(bytes),
            ExecStream::Stderr => err.extend_from_slice(bytes),
        })
        .unwrap();
        (
            status,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn runs_in_the_live_release_with_an_instances_environment() {
        let (_temp, layout, release) = root_with_live("GREETING='hi there'\n");
        let script = "echo \"$GREETING|$HOIST_ENV|$HOIST_RELEASE|${HOIST_INSTANCE:-none}\"; pwd; echo oops >&2; exit 3";
        let (status, out, err) = run(&layout, &["sh", "-c", script]);
        assert_eq!(status, 3);
        let directory = layout.release_dir(&release).canonicalize().unwrap();
        assert_eq!(
            out,
            format!("hi there|dev|{release}|none\n{}\n", directory.display())
        );
        assert_eq!(err, "oops\n");
    }

    #[test]
    fn only_path_home_and_lang_come_from_hoist() {
        let (_temp, layout, _) = root_with_live("");
        let (_, out, _) = run(&layout, &["env"]);
        let mut names: Vec<&str> = out
            .lines()
            .filter_map(|line| line.split_once('=').map(|(name, _)| name))
            .filter(|name| !["PATH", "HOME", "LANG", "PWD", "SHLVL", "_"].contains(name))
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["HOIST_ENV", "HOIST_RELEASE"]);
    }

    #[test]
    fn a_missing_program_is_status_127_with_a_message() {
        let (_temp, layout, _) = root_with_live("");
        let (status, out, err) = run(&layout, &["no-such-program-here"]);
        assert_eq!((status, out.as_str()), (127, ""));
        assert!(err.contains("cannot run `no-such-program-here`"), "{err}");
    }

    #[test]
    fn a_signal_is_128_plus_its_number() {
        let (_temp, layout, _) = root_with_live("");
        let (status, _, _) = run(&layout, &["sh", "-c", "kill -TERM $$"]);
        assert_eq!(status, 128 + 15);
    }

    #[test]
    fn no_live_release_is_an_error_with_a_hint() {
        let temp = tempfile::tempdir().unwrap();
        let layout = Layout::open(temp.path());
        let env: EnvName = "dev".parse().unwrap();
        let error = command(&layout, &env, None, &["true".to_owned()]).unwrap_err();
        assert!(error.message.contains("no live release"), "{error}");
        assert!(error.hints[0].contains("hoist deploy"));
    }
}

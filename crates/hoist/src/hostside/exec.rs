//! Running a shell command on this machine with a working directory and extra variables,
//! capturing the last 64 KiB of its combined output.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::ports::host::ExecOutput;

/// Output kept: the end of a long build log is the part that says what went wrong.
const KEPT_OUTPUT: usize = 64 * 1024;

/// Runs `sh -c command` in `cwd` with `env` added to hoist's own environment; stdout and
/// stderr go to one pipe, so their lines stay in order.
pub fn run_shell(cwd: &Path, command: &str, env: &[(String, String)]) -> Result<ExecOutput> {
    run(cwd, command, env, None)
}

/// A hook (`post_upload`, `stop`, `start`, `refresh`) or `hoist exec`'s command on a host:
/// like a controller-side command it inherits only the basics of hoist's environment (on a
/// `local:` host that is the controller's, which holds credentials the hook has no business
/// reading); `env` (the root's configured variables and hoist's `HOIST_*`) is added as given.
pub fn run_hook_shell(cwd: &Path, command: &str, env: &[(String, String)]) -> Result<ExecOutput> {
    run(cwd, command, env, Some(&[]))
}

/// `run_shell` for a command the spec runs on the controller (`[build] steps`, the
/// provision command): of hoist's own environment it inherits only what
/// `hoist_core::controller_env::passes` lets through (the basics and `pass_env`); `env`
/// (the `HOIST_*` variables hoist sets for it) is added as given.
pub fn run_controller_shell(
    cwd: &Path,
    command: &str,
    env: &[(String, String)],
    pass_env: &[String],
) -> Result<ExecOutput> {
    run(cwd, command, env, Some(pass_env))
}

fn run(
    cwd: &Path,
    command: &str,
    env: &[(String, String)],
    pass_env: Option<&[String]>,
) -> Result<ExecOutput> {
    if !cwd.is_dir() {
        return Err(Error::failed(format!(
            "cannot run `{command}`: directory `{}` does not exist",
            cwd.display()
        )));
    }
    let spawn_error = |error: io::Error| {
        Error::failed(format!("cannot run `{command}` in `{}`", cwd.display())).cause(error)
    };
    let (mut reader, writer) = io::pipe().map_err(spawn_error)?;
    let mut shell = Command::new("sh");
    if let Some(pass_env) = pass_env {
        shell.env_clear();
        for (name, value) in std::env::vars_os() {
            if name
                .to_str()
                .is_some_and(|name| hoist_core::controller_env::passes(name, pass_env))
            {
                shell.env(name, value);
            }
        }
    }
    shell
        .arg("-c")
        .arg(command)
        .current_dir(cwd)
        .envs(env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(writer.try_clone().map_err(spawn_error)?)
        .stderr(writer);
    // Instances, hooks and the host's own processes run at the priority the controller
    // started with, not the one it lowered itself to (`cpu_priority`).
    let _normal = crate::cpu_priority::NormalPriority::for_spawn();
    let mut child = shell.spawn().map_err(spawn_error)?;
    // The command holds our copies of the pipe's write end: without dropping it, the read
    // below would never see the end of the output.
    drop(shell);
    let output = keep_last(&mut reader, KEPT_OUTPUT);
    let status = child.wait().map_err(spawn_error)?;
    let output = output
        .map_err(|e| Error::internal(format!("cannot read the output of `{command}`")).cause(e))?;
    Ok(ExecOutput {
        status: status.code().unwrap_or(-1),
        output,
    })
}

/// Reads to the end, keeping the last `limit` bytes, cut at a character boundary.
pub fn keep_last(reader: &mut impl Read, limit: usize) -> io::Result<String> {
    let mut kept: VecDeque<u8> = VecDeque::with_capacity(limit.min(8 * 1024));
    let mut buffer = [0; 8 * 1024];
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        kept.extend(&buffer[..read]);
        let excess = kept.len().saturating_sub(limit);
        kept.drain(..excess);
    }
    let bytes: Vec<u8> = kept.into();
    // Skip UTF-8 continuation bytes left over from a character cut in half.
    let start = bytes
        .iter()
        .take(3)
        .take_while(|byte| (**byte & 0b1100_0000) == 0b1000_0000)
        .count();
    Ok(String::from_utf8_lossy(&bytes[start..]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_in_the_directory_with_the_variables() {
        let dir = tempfile::tempdir().unwrap();
        let env = [("GREETING".to_owned(), "hi there".to_owned())];
        let output = run_shell(dir.path(), "echo \"$GREETING\"; pwd", &env).unwrap();
        assert_eq!(output.status, 0);
        assert_eq!(
            output.output,
            format!(
                "hi there\n{}\n",
                dir.path().canonicalize().unwrap().display()
            )
        );
    }

    #[test]
    fn keeps_the_inherited_environment() {
        let dir = tempfile::tempdir().unwrap();
        let output = run_shell(dir.path(), "echo \"$PATH\"", &[]).unwrap();
        assert_ne!(output.output.trim(), "");
    }

    #[test]
    fn a_controller_command_inherits_only_the_basics_and_what_is_passed() {
        let dir = tempfile::tempdir().unwrap();
        // Variables the test process has (cargo sets these), one passed, one not.
        let env = [("HOIST_ENV".to_owned(), "dev".to_owned())];
        let command = "echo \"path=${PATH:+set} cargo=${CARGO:-unset} pkg=${CARGO_PKG_NAME:-unset} env=$HOIST_ENV\"";
        let passed = ["CARGO_PKG_NAME".to_owned()];
        let output = run_controller_shell(dir.path(), command, &env, &passed).unwrap();
        assert_eq!(
            output.output.trim(),
            "path=set cargo=unset pkg=hoist env=dev"
        );
    }

    #[test]
    fn combines_stdout_and_stderr_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let command = "echo one; echo two >&2; echo three; echo four >&2; exit 7";
        let output = run_shell(dir.path(), command, &[]).unwrap();
        assert_eq!(output.status, 7);
        assert_eq!(output.output, "one\ntwo\nthree\nfour\n");
    }

    #[test]
    fn a_signal_is_status_minus_one() {
        let dir = tempfile::tempdir().unwrap();
        let output = run_shell(dir.path(), "echo dying; kill -9 $$", &[]).unwrap();
        assert_eq!(output.status, -1);
        assert_eq!(output.output, "dying\n");
    }

    #[test]
    fn keeps_only_the_last_64_kib() {
        let dir = tempfile::tempdir().unwrap();
        let command = "i=0; while [ $i -lt 20000 ]; do echo \"line $i\"; i=$((i+1)); done";
        let output = run_shell(dir.path(), command, &[]).unwrap();
        assert_eq!(output.output.len(), KEPT_OUTPUT);
        assert!(output.output.ends_with("line 19999\n"));
    }

    #[test]
    fn cuts_at_a_character_boundary() {
        let text = "ééé".as_bytes().to_vec();
        let kept = keep_last(&mut text.as_slice(), 5).unwrap();
        assert_eq!(kept, "éé");
    }

    #[test]
    fn a_missing_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone");
        let error = run_shell(&missing, "true", &[]).unwrap_err();
        assert!(
            error.message.contains(&missing.display().to_string()),
            "{error}"
        );
    }
}

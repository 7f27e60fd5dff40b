//! `hoist host --root ROOT call|serve|receive ID|exec`: the host side of a remote host, run
//! by the controller over its transport. Hidden: people never type it. The answer is one
//! `HostResponse` line on stdout, and the exit code is the error's, as for any command —
//! except for `exec`, whose stdout, stderr and exit status are the command's.

use std::io::{Read, Write};

use crate::cli::args::{HostArgs, HostCommand};
use crate::error::{Error, Result};
use crate::hostside::host_call::{self, HostResponse};
use crate::hostside::layout::Layout;
use crate::hostside::{boot, file_stream, instance_monitor, live_exec, supervisor};

/// The host's long-running processes — a supervisor, an instance's monitor — started by hoist
/// itself with exactly these arguments, are recognised before clap builds the whole command
/// line: they then keep less of the binary resident (docs/BENCHMARKS.md,
/// Supervision). Anything else, misspelt ones included, goes through clap.
pub fn long_running() -> Option<std::process::ExitCode> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let args = long_running_args(&args)?;
    Some(match exec(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            crate::cli::printer::report_error(&error, false);
            std::process::ExitCode::from(error.kind.exit_code())
        }
    })
}

/// `host --root R supervise` and `host --root R instance --slot S`, exactly.
fn long_running_args(args: &[std::ffi::OsString]) -> Option<HostArgs> {
    let [host, flag, root, rest @ ..] = args else {
        return None;
    };
    if host != "host" || flag != "--root" {
        return None;
    }
    let command = match rest {
        [supervise] if supervise == "supervise" => HostCommand::Supervise,
        [instance, flag, slot] if instance == "instance" && flag == "--slot" => {
            HostCommand::Instance {
                slot: slot.to_str()?.parse().ok()?,
            }
        }
        _ => return None,
    };
    Some(HostArgs {
        root: std::path::PathBuf::from(root),
        command,
    })
}

pub fn exec(args: &HostArgs) -> Result<()> {
    let response = match &args.command {
        HostCommand::Serve => return serve(&args.root),
        HostCommand::Instance { slot } => {
            require_absolute(&args.root)?;
            let code = instance_monitor::run(&args.root, *slot, &mut std::io::stdin().lock())?;
            std::process::exit(code);
        }
        HostCommand::Supervise => {
            require_absolute(&args.root)?;
            return supervisor::run(&args.root);
        }
        HostCommand::Boot => {
            require_absolute(&args.root)?;
            for line in boot::boot(&args.root)? {
                progress_line(&line);
            }
            return Ok(());
        }
        HostCommand::Exec {
            env,
            release,
            command,
        } => return exec_live(&args.root, env, release.as_ref(), command),
        HostCommand::Call => {
            let mut input = Vec::new();
            match std::io::stdin().lock().read_to_end(&mut input) {
                Ok(_) => host_call::handle(&args.root, &input),
                Err(error) => HostResponse::from_result::<()>(Err(Error::internal(
                    "cannot read the request from stdin",
                )
                .cause(error))),
            }
        }
        HostCommand::Receive { id } => {
            let received = if args.root.is_absolute() {
                let layout = Layout::open(&args.root);
                file_stream::receive_stream(&layout, id, &mut std::io::stdin().lock())
            } else {
                Err(Error::failed(format!(
                    "the deploy root `{}` is not an absolute path",
                    args.root.display()
                )))
            };
            HostResponse::from_result(received)
        }
    };
    let mut line = serde_json::to_vec(&response)
        .map_err(|e| Error::internal("cannot encode the response").cause(e))?;
    line.push(b'\n');
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&line)
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::internal("cannot write the response").cause(e))?;
    match response {
        HostResponse::Ok(_) => Ok(()),
        // For the exit code; the controller reads the response above.
        HostResponse::Error(error) => Err(error.into()),
    }
}

/// `hoist host exec`: the command gets this process's stdout and stderr (ssh carries them
/// to the controller), and its exit status becomes this process's.
fn exec_live(
    root: &std::path::Path,
    env: &hoist_core::EnvName,
    release: Option<&hoist_core::ReleaseId>,
    argv: &[String],
) -> Result<()> {
    if !root.is_absolute() {
        return Err(Error::failed(format!(
            "the deploy root `{}` is not an absolute path",
            root.display()
        )));
    }
    let command = live_exec::command(&Layout::open(root), env, release, argv)?;
    let status = live_exec::run_inheriting(command)?;
    std::process::exit(status.clamp(0, 255));
}

/// One session: a request per line on stdin, its response as one line on stdout, until
/// stdin closes. One ssh channel then carries every call of a command, with no process
/// started per call.
fn serve(root: &std::path::Path) -> Result<()> {
    use std::io::BufRead;
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    for line in stdin.lines() {
        let line = line.map_err(|e| Error::internal("cannot read a request").cause(e))?;
        if line.trim().is_empty() {
            continue;
        }
        let response = host_call::handle(root, line.as_bytes());
        let mut answer = serde_json::to_vec(&response)
            .map_err(|e| Error::internal("cannot encode the response").cause(e))?;
        answer.push(b'\n');
        stdout
            .write_all(&answer)
            .and_then(|()| stdout.flush())
            .map_err(|e| Error::internal("cannot write the response").cause(e))?;
    }
    Ok(())
}

fn require_absolute(root: &std::path::Path) -> Result<()> {
    match root.is_absolute() {
        true => Ok(()),
        false => Err(Error::failed(format!(
            "the deploy root `{}` is not an absolute path",
            root.display()
        ))),
    }
}

#[expect(clippy::print_stderr, reason = "what boot did goes to its log")]
fn progress_line(line: &str) {
    eprintln!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::runtime::Slot;

    fn parse(args: &[&str]) -> Option<HostArgs> {
        let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        long_running_args(&args)
    }

    #[test]
    fn the_supervisor_and_the_monitor_skip_clap() {
        let supervise = parse(&["host", "--root", "/srv/a", "supervise"]).unwrap();
        assert_eq!(supervise.root, std::path::Path::new("/srv/a"));
        assert!(matches!(supervise.command, HostCommand::Supervise));
        let instance = parse(&["host", "--root", "/srv/a", "instance", "--slot", "green"]).unwrap();
        assert!(matches!(
            instance.command,
            HostCommand::Instance { slot: Slot::Green }
        ));
    }

    #[test]
    fn anything_else_goes_through_clap() {
        for args in [
            &["host", "--root", "/srv/a", "instance", "--slot", "purple"][..],
            &["host", "--root", "/srv/a", "instance"],
            &["host", "--root", "/srv/a", "supervise", "--extra"],
            &["host", "--root=/srv/a", "supervise"],
            &["host", "--root", "/srv/a", "boot"],
            &["deploy", "--root", "/srv/a", "supervise"],
            &["host"],
        ] {
            assert!(parse(args).is_none(), "{args:?}");
        }
    }
}

//! The readiness checks that are not HTTP: a TCP connect, and a shell command run in the
//! release directory. Each is one try, answering like the HTTP one does (`Ok(answer)` when
//! healthy, `Err(answer)` when not). Whether the listener that answered a TCP connect is the
//! instance's is asked by `HttpProbe` after the try (`port_owner`); a command check is the
//! command's own business.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use hoist_core::duration::format_duration;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How often a running check command is looked at.
const COMMAND_POLL: Duration = Duration::from_millis(10);

/// Healthy when `127.0.0.1:port` accepts a connection within `timeout`.
pub fn tcp_check(port: u16, timeout: Duration) -> Result<String, String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match TcpStream::connect_timeout(&address, timeout) {
        Ok(_) => Ok("connected".to_owned()),
        Err(error) => Err(describe_io_error(&error, timeout)),
    }
}

/// Runs `sh -c command` in `dir` with `PORT` set; healthy on exit 0. Killed, with anything
/// it started, at `timeout`.
pub fn command_check(
    command: &str,
    dir: &Path,
    port: u16,
    timeout: Duration,
) -> Result<String, String> {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own group, so a timeout kills what the command started too.
        .process_group(0)
        .spawn()
        .map_err(|error| format!("cannot run `sh` in {}: {error}", dir.display()))?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return describe_exit(status),
            Ok(None) if started.elapsed() >= timeout => {
                if let Ok(pid) = i32::try_from(child.id()) {
                    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                }
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {}", format_duration(timeout)));
            }
            Ok(None) => thread::sleep(COMMAND_POLL),
            Err(error) => return Err(format!("cannot wait for the check command: {error}")),
        }
    }
}

fn describe_exit(status: ExitStatus) -> Result<String, String> {
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok("exit 0".to_owned()),
        (Some(code), _) => Err(format!("exit {code}")),
        (None, Some(signal)) => Err(format!("killed by signal {signal}")),
        (None, None) => Err("ended without a status".to_owned()),
    }
}

/// `connection refused`, `timed out after 2s`, … for a report's answers.
pub fn describe_io_error(error: &io::Error, timeout: Duration) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            format!("timed out after {}", format_duration(timeout))
        }
        io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
        io::ErrorKind::UnexpectedEof => "closed without an answer".to_owned(),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn tcp_accepts_and_refusals_are_told_apart() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            tcp_check(port, Duration::from_secs(1)),
            Ok("connected".to_owned())
        );
        drop(listener);
        assert_eq!(
            tcp_check(port, Duration::from_secs(1)),
            Err("connection refused".to_owned())
        );
    }

    #[test]
    fn commands_run_in_the_directory_with_port_set() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("marker"), "").unwrap();
        let answer = command_check(
            "test -f marker && test \"$PORT\" = 4321 && pwd > seen",
            dir.path(),
            4321,
            Duration::from_secs(5),
        );
        assert_eq!(answer, Ok("exit 0".to_owned()));
        let seen = fs::read_to_string(dir.path().join("seen")).unwrap();
        assert_eq!(
            Path::new(seen.trim()).canonicalize().unwrap(),
            dir.path().canonicalize().unwrap()
        );
    }

    #[test]
    fn a_failing_command_reports_its_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let answer = command_check("exit 3", dir.path(), 1, Duration::from_secs(5));
        assert_eq!(answer, Err("exit 3".to_owned()));
    }

    #[test]
    fn a_slow_command_is_killed_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        // The background child would touch `late` if it survived the timeout.
        let command = "(sleep 1; touch late) & sleep 30";
        let answer = command_check(command, dir.path(), 1, Duration::from_millis(200));
        assert_eq!(answer, Err("timed out after 200ms".to_owned()));
        thread::sleep(Duration::from_millis(1500));
        assert!(!dir.path().join("late").exists());
    }

    #[test]
    fn a_missing_directory_is_an_answer_not_a_panic() {
        let answer = command_check(
            "true",
            Path::new("/nonexistent/x"),
            1,
            Duration::from_secs(1),
        );
        assert!(answer.is_err_and(|answer| answer.starts_with("cannot run `sh`")));
    }
}

//! The session the ControlMaster itself carries: the master runs the session's command
//! instead of `-N`, so a host costs one ssh process, one login and one channel. The command
//! is wrapped so that its end never ends the connection: the wrapper reports the exit
//! status on stdout, then holds the channel open until the transport closes the master's
//! stdin (on drop) — a host without hoist keeps its master for the install that follows.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, ChildStdout};
use std::sync::{Arc, Mutex, PoisonError};

use super::command_line::shell_quote;
use crate::adapters::transport::{TransportSession, request_line};

/// Starts the line the wrapper writes when the command has ended, before its exit status.
/// The leading control character never appears raw in a JSON answer, so no answer can
/// pass for it.
const ENDED: &[u8] = b"\x01hoist-session-ended ";

/// The remote shell command for the master: `argv`, then its exit status on a line of its
/// own, then — unless it ended well, which it does once stdin closes — a wait for stdin to
/// close.
pub(super) fn wrapped_command(argv: &[String]) -> String {
    let command = super::remote_command_line(argv);
    let script = format!(
        "{command}; status=$?; printf '\\001hoist-session-ended %s\\n' \"$status\"; [ \"$status\" = 0 ] || exec cat >/dev/null"
    );
    format!("sh -c {}", shell_quote(&script))
}

/// The master's stdin, shared: the session writes its requests there, the transport closes
/// it when it lets the master go. Dropping the session leaves it open.
pub(super) type MasterInput = Arc<Mutex<Option<ChildStdin>>>;

#[derive(Debug)]
pub(super) struct MasterSession {
    input: MasterInput,
    output: BufReader<ChildStdout>,
    ended: bool,
    status: Option<i32>,
}

impl MasterSession {
    pub fn new(input: MasterInput, output: ChildStdout) -> Self {
        Self {
            input,
            output: BufReader::new(output),
            ended: false,
            status: None,
        }
    }
}

impl MasterSession {
    /// Writes `data` to the master; `false` once the transport closed its stdin.
    fn send(&self, data: &mut dyn Read) -> std::io::Result<bool> {
        let mut input = self.input.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(input) = input.as_mut() else {
            return Ok(false);
        };
        std::io::copy(data, input)?;
        input.flush()?;
        Ok(true)
    }
}

impl TransportSession for MasterSession {
    fn exchange(&mut self, line: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        self.stream(&mut request_line(line).as_slice())
    }

    fn stream(&mut self, data: &mut dyn Read) -> std::io::Result<Option<Vec<u8>>> {
        if self.ended {
            return Ok(None);
        }
        match self.send(data) {
            Ok(true) => {}
            Ok(false) => {
                self.ended = true;
                return Ok(None);
            }
            // The command is gone: its status may still be waiting on stdout.
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(error) => return Err(error),
        }
        let mut answer = Vec::new();
        self.output.read_until(b'\n', &mut answer)?;
        if let Some(at) = find(&answer, ENDED) {
            self.ended = true;
            self.status = std::str::from_utf8(&answer[at + ENDED.len()..])
                .ok()
                .and_then(|status| status.trim().parse().ok());
            return Ok(None);
        }
        if !answer.ends_with(b"\n") {
            // The connection is gone (the master exited): no status came.
            self.ended = true;
            return Ok(None);
        }
        Ok(Some(answer))
    }

    fn exit_status(&mut self) -> Option<i32> {
        self.status
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use super::*;

    /// Runs the wrapped command in a local shell, as sshd would, and opens a session on it.
    fn session(argv: &[&str]) -> (std::process::Child, MasterSession) {
        let argv: Vec<String> = argv.iter().map(|word| (*word).to_owned()).collect();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(wrapped_command(&argv))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let input = Arc::new(Mutex::new(child.stdin.take()));
        let session = MasterSession::new(input, child.stdout.take().unwrap());
        (child, session)
    }

    #[test]
    fn answers_lines_until_the_command_ends_and_then_reports_its_status() {
        let echo_twice = "for n in 1 2; do read -r line; printf '%s\\n' \"$line\"; done";
        let (mut child, mut session) = session(&["sh", "-c", echo_twice]);
        assert_eq!(session.exchange(b"one").unwrap().unwrap(), b"one\n");
        assert_eq!(
            session.exchange(b"it's \"two\"").unwrap().unwrap(),
            b"it's \"two\"\n"
        );
        assert_eq!(session.exchange(b"three").unwrap(), None);
        assert_eq!(session.exit_status(), Some(0));
        assert_eq!(session.exchange(b"four").unwrap(), None);
        // A command that ended well lets the channel go.
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn a_missing_command_is_status_127_and_the_wrapper_stays() {
        let (mut child, mut session) = session(&["/nonexistent/hoist", "host", "serve"]);
        assert_eq!(session.exchange(b"{}").unwrap(), None);
        assert_eq!(session.exit_status(), Some(127));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(child.try_wait().unwrap().is_none());
        drop(session.input.lock().unwrap().take());
        child.wait().unwrap();
    }

    #[test]
    fn a_command_cut_off_mid_line_ends_the_session() {
        let (mut child, mut session) =
            session(&["sh", "-c", "read -r line; printf 'partial'; exit 3"]);
        assert_eq!(session.exchange(b"go").unwrap(), None);
        assert_eq!(session.exit_status(), Some(3));
        drop(session.input.lock().unwrap().take());
        child.wait().unwrap();
    }
}

//! Runs a local process (ssh, rsync) with stdin streamed in from any reader while its stdout
//! is collected and the tail of its stderr kept — on threads, so no pipe can fill and stall.

use std::io::{ErrorKind, Read};
use std::process::{Command, Stdio};

use crate::adapters::transport::TransportOutput;

/// How much of stderr is kept: the end, where the reason usually is.
pub(crate) const STDERR_TAIL_BYTES: usize = 64 * 1024;

/// Spawns `command` and waits for it. A process that exits without reading all of `stdin`
/// is not an error here: its status says what happened.
pub(crate) fn run_streaming(
    command: &mut Command,
    stdin: &mut dyn Read,
) -> std::io::Result<TransportOutput> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (Some(mut child_stdin), Some(mut stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(std::io::Error::other("the child's pipes are missing"));
    };
    let (copied, stdout, stderr) = std::thread::scope(|scope| {
        let stdout = scope.spawn(move || {
            let mut buffer = Vec::new();
            stdout.read_to_end(&mut buffer).map(|_| buffer)
        });
        let stderr = scope.spawn(move || read_tail(stderr, STDERR_TAIL_BYTES));
        // The caller's reader need not be Send: copy on this thread.
        let copied = match std::io::copy(stdin, &mut child_stdin) {
            Err(error) if error.kind() == ErrorKind::BrokenPipe => Ok(()),
            other => other.map(drop),
        };
        drop(child_stdin);
        (copied, stdout.join(), stderr.join())
    });
    let status = child.wait()?;
    copied?;
    let stdout = stdout.map_err(|_| std::io::Error::other("the stdout reader panicked"))??;
    let stderr = stderr.map_err(|_| std::io::Error::other("the stderr reader panicked"))??;
    Ok(TransportOutput {
        status: status.code().unwrap_or(-1),
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

/// Reads `reader` to its end, keeping only the last `limit` bytes.
pub(crate) fn read_tail(mut reader: impl Read, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut tail = Vec::new();
    let mut chunk = [0_u8; 8192];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => tail.extend_from_slice(&chunk[..read]),
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
        // Trim only now and then, not on every chunk.
        if tail.len() > 2 * limit {
            tail.drain(..tail.len() - limit);
        }
    }
    if tail.len() > limit {
        tail.drain(..tail.len() - limit);
    }
    Ok(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_stdin_and_collects_both_outputs() {
        let mut input = std::io::repeat(b'x').take(3 * 1024 * 1024);
        let output = run_streaming(
            Command::new("sh").args(["-c", "wc -c; echo oops >&2; exit 3"]),
            &mut input,
        )
        .unwrap();
        assert_eq!(String::from_utf8(output.stdout).unwrap().trim(), "3145728");
        assert_eq!(output.stderr, "oops\n");
        assert_eq!(output.status, 3);
    }

    #[test]
    fn a_process_that_ignores_stdin_is_not_an_error() {
        let mut input = std::io::repeat(b'x').take(8 * 1024 * 1024);
        let output = run_streaming(&mut Command::new("true"), &mut input).unwrap();
        assert_eq!(output.status, 0);
    }

    #[test]
    fn keeps_only_the_tail_of_stderr() {
        let text: Vec<u8> = (0..200_000_u32).map(|i| (i % 251) as u8).collect();
        let tail = read_tail(&text[..], 1000).unwrap();
        assert_eq!(tail, text[text.len() - 1000..]);
    }
}

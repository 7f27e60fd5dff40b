//! A session that is a local child process with piped stdin and stdout: `hoist host serve`
//! on this machine, or an ssh client running it on a host. The session owns the child:
//! ending it closes stdin and reaps the process.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout};

use super::{TransportSession, request_line};
use crate::error::{Error, Result};

#[derive(Debug)]
pub struct ChildSession {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    status: Option<Option<i32>>,
}

impl ChildSession {
    /// Takes over `child`, which must have been started with stdin and stdout piped.
    pub fn new(mut child: Child) -> Result<Self> {
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::internal("a host session without pipes"));
        };
        Ok(Self {
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            status: None,
        })
    }
}

impl TransportSession for ChildSession {
    fn exchange(&mut self, line: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        self.stream(&mut request_line(line).as_slice())
    }

    fn stream(&mut self, data: &mut dyn Read) -> std::io::Result<Option<Vec<u8>>> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Ok(None);
        };
        std::io::copy(data, stdin)?;
        stdin.flush()?;
        let mut answer = Vec::new();
        self.stdout.read_until(b'\n', &mut answer)?;
        Ok(answer.ends_with(b"\n").then_some(answer))
    }

    fn exit_status(&mut self) -> Option<i32> {
        self.stdin.take();
        *self
            .status
            .get_or_insert_with(|| self.child.wait().ok().and_then(|status| status.code()))
    }
}

impl Drop for ChildSession {
    /// Closing stdin ends the command; then the child is reaped.
    fn drop(&mut self) {
        self.exit_status();
    }
}

//! A session opened on a running ControlMaster by speaking its mux protocol (OpenSSH's
//! `PROTOCOL.mux`, version 4) on the control socket: a hello each way, a new-session request
//! with the command, and this process's pipe ends handed over by `SCM_RIGHTS`. It is what
//! `ssh -S SOCKET host COMMAND` does, without starting an ssh process for it: on a warm
//! connection that process (its start and its config parsing) was most of a host's cost.

use std::io::{BufRead, BufReader, IoSlice, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};

use crate::adapters::transport::{TransportSession, request_line};

const MUX_MSG_HELLO: u32 = 0x0000_0001;
const MUX_C_NEW_SESSION: u32 = 0x1000_0002;
const MUX_S_PERMISSION_DENIED: u32 = 0x8000_0002;
const MUX_S_FAILURE: u32 = 0x8000_0003;
const MUX_S_EXIT_MESSAGE: u32 = 0x8000_0004;
const MUX_S_SESSION_OPENED: u32 = 0x8000_0006;
const MUX_S_TTY_ALLOC_FAIL: u32 = 0x8000_0008;
const MUX_VERSION: u32 = 4;
/// No escape character.
const NO_ESCAPE: u32 = 0xffff_ffff;
const REQUEST_ID: u32 = 1;
/// A mux packet larger than this is not one.
const MAX_PACKET: usize = 256 * 1024;
/// How long the master may take to answer while the session opens.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(super) struct MuxSession {
    control: UnixStream,
    session_id: u32,
    stdin: Option<std::io::PipeWriter>,
    stdout: BufReader<std::io::PipeReader>,
    status: Option<Option<i32>>,
}

impl MuxSession {
    /// Opens a session running `command` (one shell string) through the master at `socket`.
    /// Its stderr goes to `/dev/null`, as a session's did with an ssh client.
    pub fn open(socket: &Path, command: &str) -> std::io::Result<Self> {
        let mut control = UnixStream::connect(socket)?;
        control.set_read_timeout(Some(OPEN_TIMEOUT))?;
        let mut hello = Vec::new();
        put_u32(&mut hello, MUX_MSG_HELLO);
        put_u32(&mut hello, MUX_VERSION);
        write_packet(&mut control, &hello)?;
        let answer = read_packet(&mut control)?;
        let mut fields = Fields(&answer);
        if fields.u32()? != MUX_MSG_HELLO || fields.u32()? != MUX_VERSION {
            return Err(invalid("the master speaks another mux protocol"));
        }
        let mut request = Vec::new();
        put_u32(&mut request, MUX_C_NEW_SESSION);
        put_u32(&mut request, REQUEST_ID);
        put_string(&mut request, b""); // reserved
        for flag in [0; 4] {
            // tty, X11, agent, subsystem: all off
            put_u32(&mut request, flag);
        }
        put_u32(&mut request, NO_ESCAPE);
        put_string(&mut request, b""); // terminal type
        put_string(&mut request, command.as_bytes());
        write_packet(&mut control, &request)?;
        let (stdin_read, stdin_write) = std::io::pipe()?;
        let (stdout_read, stdout_write) = std::io::pipe()?;
        let stderr = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
        send_fd(&control, &OwnedFd::from(stdin_read))?;
        send_fd(&control, &OwnedFd::from(stdout_write))?;
        send_fd(&control, &OwnedFd::from(stderr))?;
        // Ours are closed now: the master holds the only copies of those ends.
        let answer = read_packet(&mut control)?;
        let mut fields = Fields(&answer);
        let kind = fields.u32()?;
        if fields.u32()? != REQUEST_ID {
            return Err(invalid("the master answered another request"));
        }
        match kind {
            MUX_S_SESSION_OPENED => {}
            MUX_S_PERMISSION_DENIED | MUX_S_FAILURE => {
                let reason = String::from_utf8_lossy(fields.string()?).into_owned();
                return Err(std::io::Error::other(format!(
                    "the master refused the session: {reason}"
                )));
            }
            other => return Err(invalid(&format!("unexpected mux answer {other:#x}"))),
        }
        let session_id = fields.u32()?;
        // A session lasts as long as its command: no timeout on waiting for its end.
        control.set_read_timeout(None)?;
        Ok(Self {
            control,
            session_id,
            stdin: Some(stdin_write),
            stdout: BufReader::new(stdout_read),
            status: None,
        })
    }

    /// Closes the command's stdin and waits at most `timeout` for its exit status; the channel
    /// of a command that does not end in time is closed when the session is dropped.
    pub fn exit_status_within(&mut self, timeout: Duration) -> Option<i32> {
        self.stdin.take();
        if self.control.set_read_timeout(Some(timeout)).is_err() {
            return None;
        }
        let status = self.read_exit();
        // Not waited for again on drop: closing the control connection closes the channel.
        self.status = Some(status);
        status
    }

    /// The command's exit status from the master's exit message; `None` when the master
    /// closed the control connection without one (or a read timeout passed).
    fn read_exit(&mut self) -> Option<i32> {
        loop {
            let packet = read_packet(&mut self.control).ok()?;
            let mut fields = Fields(&packet);
            match fields.u32().ok()? {
                MUX_S_EXIT_MESSAGE if fields.u32().ok()? == self.session_id => {
                    return fields.u32().ok().and_then(|code| i32::try_from(code).ok());
                }
                MUX_S_TTY_ALLOC_FAIL => {}
                _ => return None,
            }
        }
    }
}

impl TransportSession for MuxSession {
    fn exchange(&mut self, line: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        self.stream(&mut request_line(line).as_slice())
    }

    fn stream(&mut self, data: &mut dyn Read) -> std::io::Result<Option<Vec<u8>>> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Ok(None);
        };
        match std::io::copy(data, stdin).and_then(|_| stdin.flush()) {
            Ok(()) => {}
            // The command is gone (the master closed its stdin): what it wrote is still there.
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(error) => return Err(error),
        }
        let mut answer = Vec::new();
        self.stdout.read_until(b'\n', &mut answer)?;
        Ok(answer.ends_with(b"\n").then_some(answer))
    }

    fn exit_status(&mut self) -> Option<i32> {
        self.stdin.take();
        if let Some(status) = self.status {
            return status;
        }
        let status = self.read_exit();
        self.status = Some(status);
        status
    }
}

impl Drop for MuxSession {
    /// Closing stdin ends the command; its end is waited for, as a child's would be.
    fn drop(&mut self) {
        self.exit_status();
    }
}

/// Sends `fd` with one byte of data, as OpenSSH's `mm_send_fd` does.
fn send_fd(control: &UnixStream, fd: &OwnedFd) -> std::io::Result<()> {
    let fds = [fd.as_raw_fd()];
    let byte = [0u8];
    let data = [IoSlice::new(&byte)];
    sendmsg::<()>(
        control.as_raw_fd(),
        &data,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(std::io::Error::from)?;
    Ok(())
}

fn write_packet(control: &mut UnixStream, body: &[u8]) -> std::io::Result<()> {
    let length = u32::try_from(body.len()).map_err(|_| invalid("a mux packet too large"))?;
    let mut packet = Vec::with_capacity(body.len() + 4);
    put_u32(&mut packet, length);
    packet.extend_from_slice(body);
    control.write_all(&packet)
}

fn read_packet(control: &mut UnixStream) -> std::io::Result<Vec<u8>> {
    let mut length = [0u8; 4];
    control.read_exact(&mut length)?;
    let length = u32::from_be_bytes(length) as usize;
    if length > MAX_PACKET {
        return Err(invalid("a mux packet too large"));
    }
    let mut body = vec![0u8; length];
    control.read_exact(&mut body)?;
    Ok(body)
}

fn put_u32(buffer: &mut Vec<u8>, value: u32) {
    buffer.extend_from_slice(&value.to_be_bytes());
}

fn put_string(buffer: &mut Vec<u8>, value: &[u8]) {
    put_u32(buffer, value.len() as u32);
    buffer.extend_from_slice(value);
}

/// Reads the fields of a packet in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn u32(&mut self) -> std::io::Result<u32> {
        let (head, rest) = self
            .0
            .split_first_chunk::<4>()
            .ok_or_else(|| invalid("a mux packet cut short"))?;
        self.0 = rest;
        Ok(u32::from_be_bytes(*head))
    }

    fn string(&mut self) -> std::io::Result<&'a [u8]> {
        let length = self.u32()? as usize;
        if self.0.len() < length {
            return Err(invalid("a mux packet cut short"));
        }
        let (value, rest) = self.0.split_at(length);
        self.0 = rest;
        Ok(value)
    }
}

fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_owned())
}

//! `hoist host --root R instance --slot S` (hidden): the monitor of one instance, as podman's
//! conmon is for a container. It leads the instance's process group, starts the service's
//! command as its child in that group, writes the child's stdout and stderr to the service log
//! line by line with a timestamp (rotating at the cap), and when the child ends records how
//! (`run/exit-<slot>.json`) and exits with the same code. The launch spec comes on stdin.
//!
//! A stop signals the whole group: the command gets SIGTERM; the monitor catches it and does
//! nothing, drains the last output and exits once the command has.

use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdout, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::error::{Error, Result};
use crate::hostside::instance_record::{ExitRecord, InstanceRecords, LaunchSpec};
use crate::hostside::proc_identity;
use crate::hostside::process_runtime::instance_command;
use crate::hostside::service_log::{LogStream, ServiceLogWriter};
use crate::ports::runtime::Slot;

/// How long output may still arrive after the command exited (children it left behind may
/// hold the pipes open forever).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(300);
/// Without a pidfd, how often the monitor looks whether its command exited.
const EXIT_POLL: Duration = Duration::from_millis(100);
/// A line longer than this is written in pieces.
const MAX_LINE: usize = 16 * 1024;
/// The exit code when the command could not be started at all (as a shell says).
const COULD_NOT_START: i32 = 127;

/// Runs the monitor; returns the exit code to leave with.
pub fn run(root: &Path, slot: Slot, input: &mut impl Read) -> Result<i32> {
    let mut text = Vec::new();
    input
        .read_to_end(&mut text)
        .map_err(|e| Error::internal("cannot read the launch spec").cause(e))?;
    let launch: LaunchSpec = serde_json::from_slice(&text)
        .map_err(|e| Error::internal("cannot parse the launch spec").cause(e))?;
    catch_stop_signals()?;
    let log_path = root.join("logs").join(format!("{}.log", launch.release));
    let mut log = ServiceLogWriter::open(&log_path, launch.log.max_bytes, launch.log.keep)?;
    let note = |log: &mut ServiceLogWriter, text: String| {
        let _ = log.write_line(LogStream::Hoist, text.as_bytes(), jiff::Timestamp::now());
    };
    note(
        &mut log,
        format!(
            "starting release {} on port {} in the {slot} slot: {}",
            launch.release, launch.port, launch.command
        ),
    );
    let spawned = instance_command(root, &launch).and_then(|mut command| {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::failed("cannot start the command").cause(e))
    });
    let (code, signal) = match spawned {
        Ok(child) => {
            let status = pump(child, &mut log);
            use std::os::unix::process::ExitStatusExt;
            match status {
                Some(status) => (status.code(), status.signal()),
                None => (None, None),
            }
        }
        Err(error) => {
            note(&mut log, format!("{error}"));
            (Some(COULD_NOT_START), None)
        }
    };
    let me = std::process::id();
    let exit = ExitRecord {
        pid: me,
        start_ticks: proc_identity::read(me).map_or(0, |stat| stat.start_ticks),
        release: launch.release.clone(),
        code,
        signal,
        at: jiff::Timestamp::now().to_string(),
    };
    note(&mut log, format!("ended: {}", exit.describe()));
    InstanceRecords::new(root).write_exit(slot, &exit)?;
    Ok(match (code, signal) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    })
}

/// SIGTERM and friends reach the whole group; the monitor outlives its command to record it.
/// They are caught (a flag nobody reads), not blocked or ignored: a caught signal goes back to
/// its default in the command started next, a blocked or ignored one would be inherited.
fn catch_stop_signals() -> Result<()> {
    // Whatever its starter had blocked must not pass on to the command either.
    nix::sys::signal::SigSet::empty()
        .thread_set_mask()
        .map_err(|e| Error::internal("cannot clear the signal mask").cause(e))?;
    let caught = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGQUIT,
    ] {
        signal_hook::flag::register(signal, std::sync::Arc::clone(&caught))
            .map_err(|e| Error::internal("cannot catch the stop signals").cause(e))?;
    }
    Ok(())
}

/// Copies the child's output to the log until it exited and its pipes are drained (or the
/// drain time passed); returns how it exited. It sleeps until output arrives or the child
/// exits (a pidfd, readable at its exit), so an idle instance costs its monitor no wakeups.
fn pump(mut child: Child, log: &mut ServiceLogWriter) -> Option<ExitStatus> {
    let exit_fd = exit_fd(&child);
    let mut out = Stream::new(LogStream::Out, child.stdout.take());
    let mut err = Stream::new(LogStream::Err, child.stderr.take());
    let mut status: Option<Option<ExitStatus>> = None;
    let mut exited_at: Option<Instant> = None;
    loop {
        if status.is_none() {
            match child.try_wait() {
                Ok(None) => {}
                result => {
                    status = Some(result.ok().flatten());
                    exited_at = Some(Instant::now());
                }
            }
        }
        if out.closed() && err.closed() {
            if let Some(status) = status {
                return status;
            }
            // Both pipes closed: only the exit is left to wait for.
            return child.wait().ok();
        }
        let timeout = match (exited_at, &exit_fd) {
            (Some(at), _) => match DRAIN_AFTER_EXIT.checked_sub(at.elapsed()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => {
                    out.flush(log);
                    err.flush(log);
                    return status.flatten();
                }
            },
            (None, Some(_)) => None,
            // No pidfd (Linux before 5.3): look for the exit now and then.
            (None, None) => Some(EXIT_POLL),
        };
        let watch_exit = exit_fd.as_ref().filter(|_| status.is_none());
        wait_readable(&mut out, &mut err, watch_exit, timeout);
        out.read_into(log);
        err.read_into(log);
    }
}

/// A pidfd of the child, readable once it exited. Opened before anything reaps it, so the
/// pid cannot have been reused.
fn exit_fd(child: &Child) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).ok()?)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
}

/// Waits until either open pipe has output or `exit` is readable, at most `timeout` (none:
/// no limit).
fn wait_readable(
    out: &mut Stream<ChildStdout>,
    err: &mut Stream<ChildStderr>,
    exit: Option<&OwnedFd>,
    timeout: Option<Duration>,
) {
    let mut fds = Vec::with_capacity(3);
    if let Some(pipe) = out.pipe.as_ref() {
        fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLIN));
    }
    if let Some(pipe) = err.pipe.as_ref() {
        fds.push(PollFd::new(pipe.as_fd(), PollFlags::POLLIN));
    }
    if let Some(exit) = exit {
        fds.push(PollFd::new(exit.as_fd(), PollFlags::POLLIN));
    }
    let timeout = timeout.map_or(PollTimeout::NONE, |timeout| {
        // Rounded up: a poll that returns early would spin.
        let millis = timeout.as_micros().div_ceil(1000);
        PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
    });
    let _ = poll(&mut fds, timeout);
    let ready = |fd: Option<&PollFd<'_>>| {
        fd.and_then(PollFd::revents)
            .is_some_and(|events| !events.is_empty())
    };
    let mut index = 0;
    if out.pipe.is_some() {
        out.ready = ready(fds.get(index));
        index += 1;
    }
    if err.pipe.is_some() {
        err.ready = ready(fds.get(index));
    }
}

/// One of the child's output pipes and its unfinished line.
struct Stream<P> {
    kind: LogStream,
    pipe: Option<P>,
    pending: Vec<u8>,
    ready: bool,
}

impl<P: Read> Stream<P> {
    fn new(kind: LogStream, pipe: Option<P>) -> Self {
        Self {
            kind,
            pipe,
            pending: Vec::new(),
            ready: false,
        }
    }

    fn closed(&self) -> bool {
        self.pipe.is_none()
    }

    /// Reads what poll said is there; writes each complete line.
    fn read_into(&mut self, log: &mut ServiceLogWriter) {
        if !std::mem::take(&mut self.ready) {
            return;
        }
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        let mut buffer = [0u8; 64 * 1024];
        match pipe.read(&mut buffer) {
            Ok(0) => {
                self.pipe = None;
                self.flush(log);
            }
            Ok(read) => {
                self.pending.extend_from_slice(&buffer[..read]);
                self.write_lines(log);
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                self.pipe = None;
                self.flush(log);
            }
        }
    }

    fn write_lines(&mut self, log: &mut ServiceLogWriter) {
        let now = jiff::Timestamp::now();
        while let Some(end) = self.pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = line.strip_suffix(b"\n").unwrap_or(&line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let _ = log.write_line(self.kind, line, now);
        }
        while self.pending.len() > MAX_LINE {
            let piece: Vec<u8> = self.pending.drain(..MAX_LINE).collect();
            let _ = log.write_line(self.kind, &piece, now);
        }
    }

    /// Writes an unfinished last line.
    fn flush(&mut self, log: &mut ServiceLogWriter) {
        self.write_lines(log);
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            let _ = log.write_line(self.kind, &rest, jiff::Timestamp::now());
        }
    }
}

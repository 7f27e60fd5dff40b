//! The readiness probe: one try of the spec's check, repeated until healthy or the deadline.
//! HTTP is a minimal HTTP/1.1 `GET` on `127.0.0.1:PORT` over a plain `TcpStream` (enough to
//! ask "are you up?" without a client crate); TCP and command checks live in
//! `probe_checks`. Given the instance's process group, an http or tcp answer counts only when
//! the port's listener belongs to that group (`port_owner`): a probe never passes on another
//! process's answer.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use hoist_core::ReleaseId;
use hoist_core::spec::{Health, HealthCheck, StatusRange};

use crate::hostside::layout::Layout;
use crate::hostside::port_owner::{self, Answerer};
use crate::hostside::probe_checks::{command_check, describe_io_error, tcp_check};
use crate::hostside::proc_identity;
use crate::ports::probe::{Probe, ProbeReport};

/// At most this much of an answer is read: the status line, or the body when it is checked.
const MAX_ANSWER: usize = 64 * 1024;
/// Answers kept in a report.
const KEPT_ANSWERS: usize = 5;

/// Probes instances of the deploy root `root` (whose release directories command checks run in).
#[derive(Debug, Clone)]
pub struct HttpProbe {
    layout: Layout,
}

impl HttpProbe {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            layout: Layout::open(root),
        }
    }
}

/// One try's answer, and whether someone other than the instance gave it.
struct Attempt {
    answer: Result<String, String>,
    foreign: bool,
}

impl HttpProbe {
    fn attempt(
        &self,
        port: u16,
        health: &Health,
        release: &ReleaseId,
        owner_group: Option<u32>,
    ) -> Attempt {
        let answer = match &health.check {
            HealthCheck::Http {
                path,
                expect,
                body_contains,
                host,
            } => {
                let request = HttpRequest {
                    port,
                    path,
                    host: host.as_deref(),
                    read_body: body_contains.is_some(),
                };
                http_check(&request, *expect, body_contains.as_deref(), health.timeout)
            }
            HealthCheck::Tcp => tcp_check(port, health.timeout),
            // What a check command asks, and of whom, is the command's own business: there
            // is no one listener to hold to account.
            HealthCheck::Command { command } => {
                let dir = self.layout.release_dir(release);
                let answer = command_check(command, &dir, port, health.timeout);
                return Attempt {
                    answer,
                    foreign: false,
                };
            }
        };
        let Some(group) = owner_group else {
            return Attempt {
                answer,
                foreign: false,
            };
        };
        // Asked after the answer: the listener that gave it is still there to be named.
        match port_owner::answerer(port, group, self.layout.root()) {
            Answerer::Instance => Attempt {
                answer,
                foreign: false,
            },
            // Nothing listens: the try was refused (starting up, or dead), or its listener
            // went away since it answered; either way not the instance's answer now.
            Answerer::Nobody => Attempt {
                answer: answer.and_then(|answer| {
                    Err(format!("{answer}, but nothing listens on port {port} now"))
                }),
                foreign: false,
            },
            Answerer::Other(owner) => Attempt {
                answer: Err(format!(
                    "port {port} is answered by {owner}, not by the instance"
                )),
                foreign: true,
            },
        }
    }
}

impl Probe for HttpProbe {
    fn wait_healthy(
        &self,
        port: u16,
        health: &Health,
        release: &ReleaseId,
        owner_group: Option<u32>,
    ) -> ProbeReport {
        let started = Instant::now();
        thread::sleep(health.initial_delay);
        let needed = health.successes.max(1);
        let mut attempts = 0;
        let mut consecutive = 0;
        let mut answers = VecDeque::with_capacity(KEPT_ANSWERS);
        let healthy = loop {
            attempts += 1;
            let attempt = self.attempt(port, health, release, owner_group);
            let answer = match attempt.answer {
                Ok(answer) => {
                    consecutive += 1;
                    answer
                }
                Err(answer) => {
                    consecutive = 0;
                    answer
                }
            };
            if answers.len() == KEPT_ANSWERS {
                answers.pop_front();
            }
            answers.push_back(answer);
            if consecutive >= needed {
                break true;
            }
            // Another process holds the instance's port: waiting cannot make it the
            // instance's answer.
            if attempt.foreign {
                break false;
            }
            // The instance is gone (its command exited, or the engine refused to run it):
            // waiting cannot make it healthy.
            if let Some(group) = owner_group
                && !proc_identity::is_running(group)
                && proc_identity::group_members(group).is_empty()
            {
                answers.push_back("the instance exited".to_owned());
                break false;
            }
            let elapsed = started.elapsed();
            if elapsed >= health.deadline {
                break false;
            }
            // The last try happens at the deadline, not after it.
            thread::sleep(health.interval.min(health.deadline - elapsed));
        };
        ProbeReport {
            healthy,
            attempts,
            last_answers: answers.into(),
            elapsed: started.elapsed(),
        }
    }

    fn probe_once(
        &self,
        port: u16,
        health: &Health,
        release: &ReleaseId,
        owner_group: Option<u32>,
    ) -> Result<String, String> {
        self.attempt(port, health, release, owner_group).answer
    }
}

struct HttpRequest<'a> {
    port: u16,
    path: &'a str,
    host: Option<&'a str>,
    read_body: bool,
}

fn http_check(
    request: &HttpRequest<'_>,
    expect: StatusRange,
    body_contains: Option<&str>,
    timeout: Duration,
) -> Result<String, String> {
    let (status_line, body) =
        get(request, timeout).map_err(|error| describe_io_error(&error, timeout))?;
    let answer = parse_status_line(&status_line)
        .ok_or_else(|| format!("not an HTTP answer: `{}`", status_line.trim()))?;
    let status: u16 = answer
        .get(..3)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    if !expect.contains(status) {
        return Err(answer);
    }
    match body_contains {
        Some(wanted) if !body.contains(wanted) => {
            Err(format!("{answer} but the body lacks {wanted:?}"))
        }
        _ => Ok(answer),
    }
}

/// Sends the request and reads the status line (and the body when asked), all within
/// `timeout`.
fn get(request: &HttpRequest<'_>, timeout: Duration) -> io::Result<(String, String)> {
    let deadline = Instant::now() + timeout;
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))
    };
    let port = request.port;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, remaining()?)?;
    stream.set_write_timeout(Some(remaining()?))?;
    let host = match request.host {
        Some(host) => host.to_owned(),
        None => format!("127.0.0.1:{port}"),
    };
    let text = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: hoist-probe\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n",
        request.path
    );
    stream.write_all(text.as_bytes())?;
    let mut answer = Vec::new();
    let mut buffer = [0; 4096];
    // The server closes after answering (`Connection: close`), which ends a body read.
    while (request.read_body || !answer.contains(&b'\n')) && answer.len() < MAX_ANSWER {
        stream.set_read_timeout(Some(remaining()?))?;
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..read]);
    }
    if answer.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "closed without an answer",
        ));
    }
    let line_end = answer
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(answer.len());
    let body = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|headers_end| String::from_utf8_lossy(&answer[headers_end + 4..]).into_owned())
        .unwrap_or_default();
    Ok((
        String::from_utf8_lossy(&answer[..line_end]).into_owned(),
        body,
    ))
}

/// `HTTP/1.1 503 Service Unavailable` → `503 Service Unavailable`.
fn parse_status_line(line: &str) -> Option<String> {
    let rest = line.trim_end().strip_prefix("HTTP/")?;
    let (_version, status) = rest.split_once(' ')?;
    let code = status.get(..3)?;
    if !code.bytes().all(|b| b.is_ascii_digit())
        || !matches!(status.as_bytes().get(3), None | Some(b' '))
    {
        return None;
    }
    Some(status.trim().to_owned())
}

#[cfg(test)]
mod tests;

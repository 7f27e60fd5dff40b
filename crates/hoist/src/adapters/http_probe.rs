//! The readiness probe: one try of the spec's check, repeated until healthy or the deadline.
//! HTTP is a minimal HTTP/1.1 `GET` on `127.0.0.1:PORT` over a plain `TcpStream` (enough to
//! ask "are you up?" without a client crate); TCP and command checks live in
//! `probe_checks`.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use hoist_core::ReleaseId;
use hoist_core::spec::{Health, HealthCheck, StatusRange};

use crate::adapters::probe_checks::{command_check, describe_io_error, tcp_check};
use crate::hostside::layout::Layout;
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

impl Probe for HttpProbe {
    fn wait_healthy(&self, port: u16, health: &Health, release: &ReleaseId) -> ProbeReport {
        let started = Instant::now();
        thread::sleep(health.initial_delay);
        let needed = health.successes.max(1);
        let mut attempts = 0;
        let mut consecutive = 0;
        let mut answers = VecDeque::with_capacity(KEPT_ANSWERS);
        let healthy = loop {
            attempts += 1;
            let answer = match self.probe_once(port, health, release) {
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
    ) -> Result<String, String> {
        match &health.check {
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
            HealthCheck::Command { command } => command_check(
                command,
                &self.layout.release_dir(release),
                port,
                health.timeout,
            ),
        }
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
mod tests {
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn http(expect: StatusRange) -> HealthCheck {
        HealthCheck::Http {
            path: "/health".to_owned(),
            expect,
            body_contains: None,
            host: None,
        }
    }

    fn health(successes: u32, deadline: Duration) -> Health {
        Health {
            check: http(StatusRange::new(200, 200).unwrap()),
            interval: Duration::from_millis(20),
            timeout: Duration::from_millis(500),
            deadline,
            successes,
            initial_delay: Duration::ZERO,
        }
    }

    fn probe() -> HttpProbe {
        HttpProbe::new("/nonexistent-root")
    }

    fn release() -> ReleaseId {
        "20260101T000000Z-aaaaaaaa".parse().unwrap()
    }

    /// A server answering each connection with the next status of `statuses` (the last one
    /// repeats). Returns its port and a count of the requests it saw.
    fn server(statuses: &'static [&'static str]) -> (u16, Arc<AtomicUsize>) {
        server_with(statuses, None)
    }

    /// `server`, checking the request's `Host` header is `host` (default `127.0.0.1:PORT`).
    fn server_with(
        statuses: &'static [&'static str],
        host: Option<&'static str>,
    ) -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&requests);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut request = [0; 1024];
                let read = stream.read(&mut request).unwrap();
                let request = String::from_utf8_lossy(&request[..read]).into_owned();
                assert!(request.starts_with("GET /health HTTP/1.1\r\n"), "{request}");
                let expected_host = host.map_or_else(|| format!("127.0.0.1:{port}"), str::to_owned);
                let index = seen.fetch_add(1, Ordering::SeqCst);
                let status = match request.contains(&format!("Host: {expected_host}\r\n")) {
                    true => statuses[index.min(statuses.len() - 1)],
                    false => "421 Misdirected Request",
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            }
        });
        (port, requests)
    }

    fn closed_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[test]
    fn a_healthy_server_passes() {
        let (port, requests) = server(&["200 OK"]);
        let report = probe().wait_healthy(port, &health(3, Duration::from_secs(5)), &release());
        assert!(report.healthy);
        assert_eq!(report.attempts, 3);
        assert_eq!(report.last_answers, vec!["200 OK"; 3]);
        assert_eq!(requests.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_failure_resets_the_count_of_successes() {
        let (port, _) = server(&["200 OK", "503 Service Unavailable", "200 OK"]);
        let report = probe().wait_healthy(port, &health(2, Duration::from_secs(5)), &release());
        assert!(report.healthy);
        assert_eq!(report.attempts, 4);
        assert_eq!(
            report.last_answers,
            vec!["200 OK", "503 Service Unavailable", "200 OK", "200 OK"]
        );
    }

    #[test]
    fn an_unhealthy_server_fails_at_the_deadline_keeping_five_answers() {
        let (port, _) = server(&["500 Internal Server Error", "503 Service Unavailable"]);
        let started = Instant::now();
        let report = probe().wait_healthy(port, &health(1, Duration::from_millis(300)), &release());
        assert!(!report.healthy);
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(report.attempts > 5, "{report:?}");
        assert_eq!(report.last_answers, vec!["503 Service Unavailable"; 5]);
    }

    #[test]
    fn a_refused_connection_is_reported() {
        let port = closed_port();
        let health = health(1, Duration::from_millis(100));
        assert_eq!(
            probe().probe_once(port, &health, &release()),
            Err("connection refused".to_owned())
        );
        let report = probe().wait_healthy(port, &health, &release());
        assert!(!report.healthy);
        assert_eq!(report.last_answers.last().unwrap(), "connection refused");
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepted by the kernel's backlog and never answered.
        let started = Instant::now();
        let answer = probe().probe_once(port, &health(1, Duration::from_secs(1)), &release());
        assert_eq!(answer, Err("timed out after 500ms".to_owned()));
        assert!(started.elapsed() >= Duration::from_millis(500));
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(listener);
    }

    #[test]
    fn other_statuses_and_garbage_are_failures() {
        let (port, _) = server(&["404 Not Found"]);
        let health = health(1, Duration::from_secs(1));
        assert_eq!(
            probe().probe_once(port, &health, &release()),
            Err("404 Not Found".to_owned())
        );
        let expecting_404 = Health {
            check: http(StatusRange::new(404, 404).unwrap()),
            ..health
        };
        assert_eq!(
            probe().probe_once(port, &expecting_404, &release()),
            Ok("404 Not Found".to_owned())
        );
    }

    #[test]
    fn a_status_range_accepts_any_status_inside_it() {
        let (port, _) = server(&["302 Found", "404 Not Found"]);
        let health = Health {
            check: http(StatusRange::new(200, 399).unwrap()),
            ..health(1, Duration::from_secs(1))
        };
        assert_eq!(
            probe().probe_once(port, &health, &release()),
            Ok("302 Found".to_owned())
        );
        assert_eq!(
            probe().probe_once(port, &health, &release()),
            Err("404 Not Found".to_owned())
        );
    }

    #[test]
    fn the_body_must_contain_the_text_asked_for() {
        let (port, _) = server(&["200 OK"]);
        let wanting = |text: &str| Health {
            check: HealthCheck::Http {
                path: "/health".to_owned(),
                expect: StatusRange::new(200, 200).unwrap(),
                body_contains: Some(text.to_owned()),
                host: None,
            },
            ..health(1, Duration::from_secs(1))
        };
        assert_eq!(
            probe().probe_once(port, &wanting("ok"), &release()),
            Ok("200 OK".to_owned())
        );
        assert_eq!(
            probe().probe_once(port, &wanting("ready"), &release()),
            Err("200 OK but the body lacks \"ready\"".to_owned())
        );
    }

    #[test]
    fn the_host_header_is_sent_as_configured() {
        let (port, _) = server_with(&["200 OK"], Some("app.example"));
        let with_host = |host: Option<&str>| Health {
            check: HealthCheck::Http {
                path: "/health".to_owned(),
                expect: StatusRange::new(200, 200).unwrap(),
                body_contains: None,
                host: host.map(str::to_owned),
            },
            ..health(1, Duration::from_secs(1))
        };
        assert_eq!(
            probe().probe_once(port, &with_host(Some("app.example")), &release()),
            Ok("200 OK".to_owned())
        );
        assert_eq!(
            probe().probe_once(port, &with_host(None), &release()),
            Err("421 Misdirected Request".to_owned())
        );
    }

    #[test]
    fn tcp_and_command_checks_are_dispatched() {
        let root = tempfile::tempdir().unwrap();
        let release_dir = root.path().join("releases").join(release().as_str());
        std::fs::create_dir_all(&release_dir).unwrap();
        std::fs::write(release_dir.join("ready"), "").unwrap();
        let probe = HttpProbe::new(root.path());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let tcp = Health {
            check: HealthCheck::Tcp,
            ..health(2, Duration::from_secs(5))
        };
        let report = probe.wait_healthy(port, &tcp, &release());
        assert!(report.healthy, "{report:?}");
        assert_eq!(report.last_answers, vec!["connected"; 2]);
        let command = |command: &str| Health {
            check: HealthCheck::Command {
                command: command.to_owned(),
            },
            ..health(1, Duration::from_millis(100))
        };
        assert_eq!(
            probe.probe_once(port, &command("test -f ready"), &release()),
            Ok("exit 0".to_owned())
        );
        let report = probe.wait_healthy(port, &command("test -f missing"), &release());
        assert!(!report.healthy);
        assert_eq!(
            report.last_answers.last().map(String::as_str),
            Some("exit 1")
        );
    }

    #[test]
    fn the_initial_delay_passes_before_the_first_try() {
        let root = tempfile::tempdir().unwrap();
        let release_dir = root.path().join("releases").join(release().as_str());
        std::fs::create_dir_all(&release_dir).unwrap();
        // The check passes only once `up` exists; a background job makes it after a while.
        // With the delay, the very first try already finds it.
        let probe = HttpProbe::new(root.path());
        let dir = release_dir.clone();
        let maker = thread::spawn(move || {
            thread::sleep(Duration::from_millis(300));
            std::fs::write(dir.join("up"), "").unwrap();
        });
        let health = Health {
            check: HealthCheck::Command {
                command: "test -f up".to_owned(),
            },
            initial_delay: Duration::from_secs(1),
            ..health(1, Duration::from_secs(5))
        };
        let report = probe.wait_healthy(1, &health, &release());
        maker.join().unwrap();
        assert!(report.healthy, "{report:?}");
        assert_eq!(report.attempts, 1, "{report:?}");
    }

    #[test]
    fn parses_status_lines() {
        assert_eq!(
            parse_status_line("HTTP/1.1 200 OK\r"),
            Some("200 OK".to_owned())
        );
        assert_eq!(parse_status_line("HTTP/1.0 204"), Some("204".to_owned()));
        assert_eq!(parse_status_line("SSH-2.0-OpenSSH_9.6"), None);
        assert_eq!(parse_status_line("HTTP/1.1 2000 Nope"), None);
        assert_eq!(parse_status_line("HTTP/1.1 OK"), None);
    }
}

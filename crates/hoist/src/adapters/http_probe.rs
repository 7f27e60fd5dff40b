//! The HTTP readiness probe: a minimal HTTP/1.1 `GET` on `127.0.0.1:PORT` over a plain
//! `TcpStream`, reading only the status line. Enough to ask "are you up?" without a client
//! crate.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use hoist_core::duration::format_duration;
use hoist_core::spec::Health;

use crate::ports::probe::{Probe, ProbeReport};

/// At most this much of an answer is read: the status line is all the probe needs.
const MAX_ANSWER: usize = 4 * 1024;
/// Answers kept in a report.
const KEPT_ANSWERS: usize = 5;

#[derive(Debug, Clone, Copy, Default)]
pub struct HttpProbe;

impl Probe for HttpProbe {
    fn wait_healthy(&self, port: u16, health: &Health) -> ProbeReport {
        let started = Instant::now();
        let needed = health.successes.max(1);
        let mut attempts = 0;
        let mut consecutive = 0;
        let mut answers = VecDeque::with_capacity(KEPT_ANSWERS);
        let healthy = loop {
            attempts += 1;
            let answer = match self.probe_once(port, health) {
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

    fn probe_once(&self, port: u16, health: &Health) -> Result<String, String> {
        let status_line = get_status_line(port, &health.path, health.timeout)
            .map_err(|error| describe(&error, health.timeout))?;
        let answer = parse_status_line(&status_line)
            .ok_or_else(|| format!("not an HTTP answer: `{}`", status_line.trim()))?;
        if answer.starts_with(&format!("{} ", health.expect_status))
            || answer == health.expect_status.to_string()
        {
            Ok(answer)
        } else {
            Err(answer)
        }
    }
}

/// Sends the request and reads up to the end of the status line, all within `timeout`.
fn get_status_line(port: u16, path: &str, timeout: Duration) -> io::Result<String> {
    let deadline = Instant::now() + timeout;
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))
    };
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, remaining()?)?;
    stream.set_write_timeout(Some(remaining()?))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: hoist-probe\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    let mut buffer = [0; 1024];
    while !answer.contains(&b'\n') && answer.len() < MAX_ANSWER {
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
    Ok(String::from_utf8_lossy(&answer[..line_end]).into_owned())
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

fn describe(error: &io::Error, timeout: Duration) -> String {
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
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn health(successes: u32, deadline: Duration) -> Health {
        Health {
            path: "/health".to_owned(),
            expect_status: 200,
            interval: Duration::from_millis(20),
            timeout: Duration::from_millis(500),
            deadline,
            successes,
        }
    }

    /// A server answering each connection with the next status of `statuses` (the last one
    /// repeats). Returns its port and a count of the requests it saw.
    fn server(statuses: &'static [&'static str]) -> (u16, Arc<AtomicUsize>) {
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
                assert!(request.contains(&format!("Host: 127.0.0.1:{port}\r\n")));
                let index = seen.fetch_add(1, Ordering::SeqCst);
                let status = statuses[index.min(statuses.len() - 1)];
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
        let report = HttpProbe.wait_healthy(port, &health(3, Duration::from_secs(5)));
        assert!(report.healthy);
        assert_eq!(report.attempts, 3);
        assert_eq!(report.last_answers, vec!["200 OK"; 3]);
        assert_eq!(requests.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_failure_resets_the_count_of_successes() {
        let (port, _) = server(&["200 OK", "503 Service Unavailable", "200 OK"]);
        let report = HttpProbe.wait_healthy(port, &health(2, Duration::from_secs(5)));
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
        let report = HttpProbe.wait_healthy(port, &health(1, Duration::from_millis(300)));
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
            HttpProbe.probe_once(port, &health),
            Err("connection refused".to_owned())
        );
        let report = HttpProbe.wait_healthy(port, &health);
        assert!(!report.healthy);
        assert_eq!(report.last_answers.last().unwrap(), "connection refused");
    }

    #[test]
    fn a_silent_server_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Accepted by the kernel's backlog and never answered.
        let started = Instant::now();
        let answer = HttpProbe.probe_once(port, &health(1, Duration::from_secs(1)));
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
            HttpProbe.probe_once(port, &health),
            Err("404 Not Found".to_owned())
        );
        let expecting_404 = Health {
            expect_status: 404,
            ..health
        };
        assert_eq!(
            HttpProbe.probe_once(port, &expecting_404),
            Ok("404 Not Found".to_owned())
        );
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

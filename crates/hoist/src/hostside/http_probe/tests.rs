//! The probe against tiny real servers, ports and commands.

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
    let report = probe().wait_healthy(port, &health(3, Duration::from_secs(5)), &release(), None);
    assert!(report.healthy);
    assert_eq!(report.attempts, 3);
    assert_eq!(report.last_answers, vec!["200 OK"; 3]);
    assert_eq!(requests.load(Ordering::SeqCst), 3);
}

#[test]
fn a_failure_resets_the_count_of_successes() {
    let (port, _) = server(&["200 OK", "503 Service Unavailable", "200 OK"]);
    let report = probe().wait_healthy(port, &health(2, Duration::from_secs(5)), &release(), None);
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
    let report = probe().wait_healthy(
        port,
        &health(1, Duration::from_millis(300)),
        &release(),
        None,
    );
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
        probe().probe_once(port, &health, &release(), None),
        Err("connection refused".to_owned())
    );
    let report = probe().wait_healthy(port, &health, &release(), None);
    assert!(!report.healthy);
    assert_eq!(report.last_answers.last().unwrap(), "connection refused");
}

#[test]
fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepted by the kernel's backlog and never answered.
    let started = Instant::now();
    let answer = probe().probe_once(port, &health(1, Duration::from_secs(1)), &release(), None);
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
        probe().probe_once(port, &health, &release(), None),
        Err("404 Not Found".to_owned())
    );
    let expecting_404 = Health {
        check: http(StatusRange::new(404, 404).unwrap()),
        ..health
    };
    assert_eq!(
        probe().probe_once(port, &expecting_404, &release(), None),
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
        probe().probe_once(port, &health, &release(), None),
        Ok("302 Found".to_owned())
    );
    assert_eq!(
        probe().probe_once(port, &health, &release(), None),
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
        probe().probe_once(port, &wanting("ok"), &release(), None),
        Ok("200 OK".to_owned())
    );
    assert_eq!(
        probe().probe_once(port, &wanting("ready"), &release(), None),
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
        probe().probe_once(port, &with_host(Some("app.example")), &release(), None),
        Ok("200 OK".to_owned())
    );
    assert_eq!(
        probe().probe_once(port, &with_host(None), &release(), None),
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
    let report = probe.wait_healthy(port, &tcp, &release(), None);
    assert!(report.healthy, "{report:?}");
    assert_eq!(report.last_answers, vec!["connected"; 2]);
    let command = |command: &str| Health {
        check: HealthCheck::Command {
            command: command.to_owned(),
        },
        ..health(1, Duration::from_millis(100))
    };
    assert_eq!(
        probe.probe_once(port, &command("test -f ready"), &release(), None),
        Ok("exit 0".to_owned())
    );
    let report = probe.wait_healthy(port, &command("test -f missing"), &release(), None);
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
    let report = probe.wait_healthy(1, &health, &release(), None);
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

/// A real process group that does not listen: the instance hoist started, in the ownership
/// tests. Killed on drop.
struct SilentInstance(std::process::Child);

impl SilentInstance {
    fn start() -> Self {
        use std::os::unix::process::CommandExt;
        let child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        Self(child)
    }

    fn group(&self) -> Option<u32> {
        Some(self.0.id())
    }
}

impl Drop for SilentInstance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_foreign_answer_is_not_the_instance_and_ends_the_wait_at_once() {
    // This test process answers 200 on the port; the instance (a silent group) does not.
    let (port, requests) = server(&["200 OK"]);
    let instance = SilentInstance::start();
    let started = Instant::now();
    let report = probe().wait_healthy(
        port,
        &health(1, Duration::from_secs(10)),
        &release(),
        instance.group(),
    );
    assert!(!report.healthy, "{report:?}");
    assert_eq!(report.attempts, 1, "fails fast: {report:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{report:?}");
    let me = std::process::id();
    let answer = &report.last_answers[0];
    assert!(
        answer.starts_with(&format!("port {port} is answered by pid {me} (`")),
        "{answer}"
    );
    assert!(answer.ends_with("), not by the instance"), "{answer}");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        1,
        "the foreign server was asked"
    );

    let tcp = Health {
        check: HealthCheck::Tcp,
        ..health(1, Duration::from_secs(1))
    };
    let answer = probe()
        .probe_once(port, &tcp, &release(), instance.group())
        .unwrap_err();
    assert!(answer.contains("not by the instance"), "{answer}");
}

#[test]
fn the_instance_group_listening_passes() {
    // The listener is in this process, so this process's group is the owner.
    let (port, _) = server(&["200 OK"]);
    let group = Some(nix::unistd::getpgrp().as_raw().cast_unsigned());
    let report = probe().wait_healthy(port, &health(2, Duration::from_secs(5)), &release(), group);
    assert!(report.healthy, "{report:?}");
    assert_eq!(report.last_answers, vec!["200 OK"; 2]);
    let tcp = Health {
        check: HealthCheck::Tcp,
        ..health(1, Duration::from_secs(1))
    };
    assert_eq!(
        probe().probe_once(port, &tcp, &release(), group),
        Ok("connected".to_owned())
    );
}

#[test]
fn an_instance_not_listening_yet_is_waited_for_until_the_deadline() {
    let port = closed_port();
    let instance = SilentInstance::start();
    let report = probe().wait_healthy(
        port,
        &health(1, Duration::from_millis(300)),
        &release(),
        instance.group(),
    );
    assert!(!report.healthy);
    assert!(report.attempts > 1, "{report:?}");
    assert_eq!(report.last_answers.last().unwrap(), "connection refused");
}

#[test]
fn a_command_check_is_its_own_business() {
    let root = tempfile::tempdir().unwrap();
    let release_dir = root.path().join("releases").join(release().as_str());
    std::fs::create_dir_all(&release_dir).unwrap();
    let (port, _) = server(&["200 OK"]);
    let instance = SilentInstance::start();
    let command = Health {
        check: HealthCheck::Command {
            command: "true".to_owned(),
        },
        ..health(1, Duration::from_secs(1))
    };
    assert_eq!(
        HttpProbe::new(root.path()).probe_once(port, &command, &release(), instance.group()),
        Ok("exit 0".to_owned())
    );
}

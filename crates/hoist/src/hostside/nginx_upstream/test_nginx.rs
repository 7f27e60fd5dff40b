//! A real nginx for the tests: its own prefix in a temp dir (config, pid, logs, temp dirs, so
//! nothing under /etc or /var is touched), listening on a free loopback port, proxying to the
//! upstream hoist's file defines. Killed, workers too, when dropped.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::{NginxUpstream, render};
use crate::hostside::proc_identity;

pub const UPSTREAM: &str = "web";

pub struct TestNginx {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl TestNginx {
    /// Writes the config; nginx is not started yet.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let prefix = dir.path();
        fs::create_dir(prefix.join("conf.d")).unwrap();
        fs::create_dir(prefix.join("logs")).unwrap();
        let p = |name: &str| prefix.join(name).display().to_string();
        let conf = format!(
            "daemon off;\n\
             worker_processes 1;\n\
             pid {pid};\n\
             error_log {error_log} info;\n\
             events {{}}\n\
             http {{\n\
             \x20   access_log off;\n\
             \x20   client_body_temp_path {client_body};\n\
             \x20   proxy_temp_path {proxy};\n\
             \x20   fastcgi_temp_path {fastcgi};\n\
             \x20   uwsgi_temp_path {uwsgi};\n\
             \x20   scgi_temp_path {scgi};\n\
             \x20   include {conf_d}/*.conf;\n\
             \x20   server {{\n\
             \x20       listen 127.0.0.1:{port};\n\
             \x20       location / {{\n\
             \x20           proxy_pass http://{UPSTREAM};\n\
             \x20           proxy_http_version 1.1;\n\
             \x20           proxy_set_header Connection \"\";\n\
             \x20       }}\n\
             \x20   }}\n\
             }}\n",
            pid = p("nginx.pid"),
            error_log = p("logs/error.log"),
            client_body = p("client_body_temp"),
            proxy = p("proxy_temp"),
            fastcgi = p("fastcgi_temp"),
            uwsgi = p("uwsgi_temp"),
            scgi = p("scgi_temp"),
            conf_d = p("conf.d"),
        );
        fs::write(prefix.join("nginx.conf"), conf).unwrap();
        Self {
            dir,
            port,
            child: None,
        }
    }

    /// What hoist is given: the file in `conf.d`, the binary with this prefix and config.
    pub fn upstream(&self) -> NginxUpstream {
        let prefix = self.dir.path();
        let args = [
            nginx_binary(),
            "-p",
            &format!("{}/", prefix.display()),
            "-c",
            &prefix.join("nginx.conf").display().to_string(),
            "-e",
            &prefix.join("logs/error.log").display().to_string(),
        ];
        NginxUpstream {
            file: self.file(),
            upstream_name: UPSTREAM.to_owned(),
            command: args.iter().map(|arg| (*arg).to_owned()).collect(),
        }
    }

    pub fn file(&self) -> PathBuf {
        self.dir.path().join("conf.d/hoist-web.conf")
    }

    /// A sibling in `conf.d` nginx cannot parse, so `nginx -t` fails.
    pub fn break_config(&self) -> PathBuf {
        let broken = self.dir.path().join("conf.d/broken.conf");
        fs::write(&broken, "this_is_not_a_directive on;\n").unwrap();
        broken
    }

    /// Starts nginx with `first` as its upstream (nginx refuses to start while
    /// `proxy_pass http://web` names no upstream), and waits until it listens.
    pub fn start(&mut self, first: SocketAddr) {
        fs::write(self.file(), render(UPSTREAM, first)).unwrap();
        let command = self.upstream().command;
        let child = Command::new(&command[0])
            .args(&command[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so drop can kill the master and its workers at once.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nginx (scripts/test installs it): {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("nginx exited with {status}:\n{}", self.error_log());
            }
            assert!(Instant::now() < deadline, "nginx did not listen in 10 s");
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn error_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("logs/error.log")).unwrap_or_default()
    }

    /// One `GET /` through nginx: the status code and the body.
    pub fn get(&self) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status = answer[9..12].parse().unwrap();
        let body = answer.split_once("\r\n\r\n").unwrap().1.to_owned();
        (status, body)
    }

    /// Polls until nginx answers `body` and its old workers are gone: a reload replaces the
    /// workers gracefully, so for a moment an old one may still accept a connection.
    pub fn wait_for_body(&self, body: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = self.get();
            if answer == (200, body.to_owned()) && self.processes() == 2 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx still answers {answer:?} with {} processes, not {body:?}; its log:\n{}",
                self.processes(),
                self.error_log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The live processes in nginx's group: the master and its workers.
    fn processes(&self) -> usize {
        let master = self.child.as_ref().expect("nginx is started").id();
        fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .filter_map(proc_identity::read)
            .filter(|stat| stat.process_group == master && !stat.is_zombie())
            .count()
    }
}

impl Drop for TestNginx {
    /// SIGTERM first, so the master stops and reaps its workers; then SIGKILL to the whole
    /// group, so a stuck nginx cannot outlive the test.
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill, killpg};
        let Some(mut child) = self.child.take() else {
            return;
        };
        let master = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        let _ = kill(master, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let _ = killpg(master, Signal::SIGKILL);
        let _ = child.wait();
    }
}

/// Debian puts nginx in /usr/sbin, which a user's PATH may lack; a missing nginx then fails
/// the test at start rather than skipping it.
fn nginx_binary() -> &'static str {
    if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP/1.1 server on a loopback port answering every request with `body`, keeping
/// connections alive as nginx's `keepalive` expects. Its threads end with the test process.
pub fn serve(body: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || answer_all(stream, body));
        }
    });
    addr
}

fn answer_all(stream: TcpStream, body: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        // The request line and headers; requests here have no body.
        let mut blank_seen = false;
        let mut line = String::new();
        while !blank_seen {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => blank_seen = line == "\r\n" || line == "\n",
            }
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// A loopback address nothing listens on, for an upstream that must not be used.
pub fn closed_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

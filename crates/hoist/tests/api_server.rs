//! The tests' one `hoist serve` launcher (a real server on a free loopback port, for the API
//! and the scheduler), its calls through the tests' HTTP client, and what they need: a spec
//! with two environments, tokens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::Test;
use crate::http_client::{self, Patience, Stream};

/// A spec with two environments on local roots, no service: enough to schedule against.
pub fn two_env_test() -> Test {
    let t = Test::new();
    let staging = t.temp.path().join("hosts").join("staging");
    let spec = format!(
        r#"
[app]
name = "hello"

[build]
upload = ["."]

[env.dev]
hosts = ["local:{{root}}"]
secrets = ["API_KEY"]

[env.staging]
hosts = ["local:{}"]
"#,
        staging.display()
    );
    t.spec(&spec)
}

/// Makes a token with the CLI; returns its secret.
pub fn token(t: &Test, name: &str, role: &str, envs: &[&str]) -> String {
    token_with(t, &[], name, role, envs)
}

/// `token` with extra environment variables for hoist (e.g. `HOIST_STATE`).
pub fn token_with(t: &Test, env: &[(&str, &str)], name: &str, role: &str, envs: &[&str]) -> String {
    let mut args = vec!["tokens", "create", name, "--role", role, "--json"];
    for env in envs {
        args.extend(["--env", env]);
    }
    let created = t.hoist_with(&args, env).success().json();
    created["secret"].as_str().expect("a secret").to_owned()
}

/// A `hoist serve` for one test on a free loopback port: started once it has announced its
/// address and its controller serves, its log (stderr) kept, killed when dropped.
pub struct Server {
    child: Child,
    pub address: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Server {
    pub fn start(t: &Test, env: &[(&str, &str)]) -> Self {
        Self::start_with(t, &[], env)
    }

    /// `hoist serve` with more arguments (e.g. `--reconcile-every 200ms`).
    pub fn start_with(t: &Test, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut argv = vec!["serve", "--listen", "127.0.0.1:0"];
        argv.extend_from_slice(args);
        let mut child = t
            .command(&argv)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hoist serve");
        let log = Arc::new(Mutex::new(String::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("stderr");
        let lines = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                // `… hoist serve: listening on http://ADDRESS` in a human line or in the
                // message of a JSON one (`--log-format json`).
                if let Some((_, rest)) = line.split_once("hoist serve: listening on http://") {
                    let address: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || ":.[]".contains(*c))
                        .collect();
                    let _ = sender.send(address);
                }
                let mut log = lines.lock().expect("log");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let announced = receiver.recv_timeout(Duration::from_secs(20));
        let address = announced.as_deref().map(str::parse::<SocketAddr>);
        let Ok(Ok(address)) = address else {
            // The server is not handed to anyone who would stop it: stop it here.
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "hoist serve did not announce an address ({announced:?}):\n{}",
                log.lock().expect("log")
            );
        };
        let server = Self {
            child,
            address,
            log,
        };
        // Its controller takes scheduled commands from here on.
        server.wait_for_log("serving", Duration::from_secs(20));
        server
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    #[track_caller]
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "hoist serve's log lacks {needle:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `method path` with an optional bearer token and JSON body.
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Reply {
        let authorization = token.map(|token| format!("Bearer {token}"));
        let mut headers = Vec::new();
        if let Some(authorization) = &authorization {
            headers.push(("Authorization", authorization.as_str()));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        let url = format!("http://{}{path}", self.address);
        let answer = http_client::send(
            method,
            &url,
            &headers,
            body.map(str::as_bytes),
            Patience::TEST,
        )
        .unwrap_or_else(|error| panic!("{method} {path}: no answer: {error}"));
        Reply {
            status: answer.status,
            head: answer.head,
            body: answer.body,
        }
    }

    pub fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), None)
    }

    pub fn post(&self, path: &str, token: &str, body: &str) -> Reply {
        self.call("POST", path, Some(token), Some(body))
    }

    /// `GET path` with a bearer token (and `headers`), its body left open: an event stream.
    pub fn open(&self, path: &str, token: &str, headers: &[(&str, &str)]) -> Stream {
        let authorization = format!("Bearer {token}");
        let mut all = vec![("Authorization", authorization.as_str())];
        all.extend_from_slice(headers);
        let url = format!("http://{}{path}", self.address);
        http_client::open(&url, &all, Patience::TEST)
            .unwrap_or_else(|error| panic!("GET {path}: no answer: {error}"))
    }

    /// Writes `request` byte for byte, for what no client would send (a malformed header, a
    /// body that lies about its type), and reads the whole answer (a write cut short by the
    /// server answering early is fine). The request should say `Connection: close`.
    pub fn raw(&self, request: &[u8]) -> Reply {
        let mut stream =
            TcpStream::connect_timeout(&self.address, Duration::from_secs(5)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        let _ = stream.write_all(request);
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        Reply::parse(&String::from_utf8_lossy(&response))
    }

    /// SIGTERM, then the exit status (panics if it takes over 20 s).
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "hoist serve did not stop after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, and waits for it to be gone: a controller that crashed.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    fn parse(response: &str) -> Self {
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {response:?}"));
        assert!(
            !head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked"),
            "a raw request's answer is read as is, not from chunks: {response:?}"
        );
        let body = body.to_owned();
        Self {
            status,
            head: head.to_owned(),
            body,
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    #[track_caller]
    pub fn status(self, status: u16) -> Self {
        assert_eq!(self.status, status, "{self:#?}");
        self
    }

    /// Asserts the one error shape with this status and code.
    #[track_caller]
    pub fn error(self, status: u16, code: &str) -> Self {
        assert_eq!(self.status, status, "{self:#?}");
        let json = self.json();
        let error = &json["error"];
        assert_eq!(error["status"], status, "{self:#?}");
        assert_eq!(error["code"], code, "{self:#?}");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{self:#?}"
        );
        assert_eq!(
            json.as_object().map(serde_json::Map::len),
            Some(1),
            "only `error`: {self:#?}"
        );
        self
    }
}

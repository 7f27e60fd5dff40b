//! `hoist proxy` as a real process: two tiny upstreams ("blue", "green"), swaps over the
//! admin socket, draining, maintenance, restarts, and bodies streamed through.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::harness::{Test, free_port, http_get};
use crate::http_client::{self, Patience};

/// An HTTP/1.1 upstream answering its name; `/slow` after 1.5 s, `/forwarded` with the
/// forwarding headers it saw, `/sum` with the length and blake3 of the request body.
/// It counts the connections it accepted and those still open.
struct Upstream {
    address: SocketAddr,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
}

impl Upstream {
    fn start(name: &'static str) -> Self {
        Self::start_with(name, false)
    }

    /// With `hang_up_after_one`, every connection is closed after its first response, with
    /// no `Connection: close` to say so (as an upstream whose keep-alive timeout is short).
    fn start_with(name: &'static str, hang_up_after_one: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (accepted, open) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counts = (Arc::clone(&accepted), Arc::clone(&open));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counts.0.fetch_add(1, Ordering::SeqCst);
                counts.1.fetch_add(1, Ordering::SeqCst);
                let open = Arc::clone(&counts.1);
                thread::spawn(move || {
                    serve_upstream_connection(stream, name, hang_up_after_one);
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            address,
            accepted,
            open,
        }
    }
}

/// A request's line and headers (names in lower case), as an upstream reads them.
pub struct RequestHead {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl RequestHead {
    /// Reads one head; `None` at the end of the stream or on anything that is not a head.
    pub fn read(reader: &mut impl BufRead) -> Option<Self> {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let mut words = line.split_whitespace();
        let (method, path) = (words.next()?.to_owned(), words.next()?.to_owned());
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).ok()?;
            let line = line.trim_end();
            if line.is_empty() {
                return Some(Self {
                    method,
                    path,
                    headers,
                });
            }
            let (key, value) = line.split_once(':')?;
            headers.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }

    /// The first value of header `name` (lower case), or empty.
    pub fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}

/// Answers requests on one kept-alive connection until the proxy closes it.
fn serve_upstream_connection(stream: TcpStream, name: &str, hang_up_after_one: bool) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some(head) = RequestHead::read(&mut reader) {
        let length: u64 = head.header("content-length").parse().unwrap_or(0);
        let mut hasher = blake3::Hasher::new();
        let copied = std::io::copy(&mut (&mut reader).take(length), &mut hasher).unwrap();
        let body = match head.path.as_str() {
            "/slow" => {
                thread::sleep(Duration::from_millis(1500));
                name.to_owned()
            }
            "/forwarded" => format!(
                "{}|{}",
                head.header("x-forwarded-for"),
                head.header("x-forwarded-proto")
            ),
            "/sum" => format!("{copied} {}", hasher.finalize().to_hex()),
            _ => name.to_owned(),
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() || hang_up_after_one {
            return;
        }
    }
}

/// A running `hoist proxy`; stopped with SIGTERM (then SIGKILL) when dropped.
pub struct Proxy {
    pub child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Proxy {
    pub fn start(dir: &Path, port: u16) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_hoist"))
            .args([
                "proxy",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--state-dir",
            ])
            .arg(dir)
            .args(["--drain-timeout", "5s"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Test::wait_for_file(&dir.join("proxy.pid"), Duration::from_secs(10));
        Self {
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    /// Sends one admin command and asserts it was taken.
    pub fn admin(&self, command: Value) -> Value {
        let mut stream = UnixStream::connect(self.dir.join("admin.sock")).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        writeln!(stream, "{command}").unwrap();
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply).unwrap();
        let reply: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(reply["ok"], true, "{command} was refused: {reply}");
        reply
    }

    fn route_to(&self, upstream: &Upstream) -> Value {
        self.admin(json!({ "set_upstream": upstream.address.to_string() }))
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.port, path).unwrap()
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the proxy exited with {status}");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn started() -> (TempDir, Proxy) {
    let dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(dir.path(), free_port());
    (dir, proxy)
}

#[test]
fn requests_follow_a_swap_while_an_in_flight_request_finishes_on_the_old_upstream() {
    let (blue, green) = (Upstream::start("blue"), Upstream::start("green"));
    let (_dir, proxy) = started();
    assert_eq!(proxy.route_to(&blue)["routes"]["version"], 1);
    assert_eq!(proxy.get("/"), (200, "blue".to_owned()));

    let port = proxy.port;
    let slow = thread::spawn(move || http_get(port, "/slow").unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while proxy.admin(json!({ "get": null }))["in_flight"][blue.address.to_string()] != 1 {
        assert!(
            Instant::now() < deadline,
            "the slow request never showed as in flight"
        );
        thread::sleep(Duration::from_millis(20));
    }

    let swapped = proxy.route_to(&green);
    assert_eq!(swapped["routes"]["upstream"], green.address.to_string());
    assert_eq!(
        swapped["in_flight"][blue.address.to_string()],
        1,
        "{swapped}"
    );
    assert_eq!(proxy.get("/"), (200, "green".to_owned()));
    assert_eq!(slow.join().unwrap(), (200, "blue".to_owned()));
    let drained = proxy.admin(json!({ "get": null }));
    assert_eq!(drained["in_flight"], json!({}), "{drained}");
    proxy.stop();
}

#[test]
fn upstream_connections_are_kept_alive_and_closed_once_no_route_leads_there() {
    let (blue, green) = (Upstream::start("blue"), Upstream::start("green"));
    let (_dir, proxy) = started();
    proxy.route_to(&blue);
    for _ in 0..20 {
        assert_eq!(proxy.get("/"), (200, "blue".to_owned()));
    }
    // Twenty client connections, dealt to the serving threads in turn: one upstream
    // connection per thread, each reused.
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    let accepted = blue.accepted.load(Ordering::SeqCst);
    assert!((1..=threads).contains(&accepted), "{accepted} connections");

    proxy.route_to(&green);
    assert_eq!(proxy.get("/"), (200, "green".to_owned()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while blue.open.load(Ordering::SeqCst) > 0 {
        assert!(
            Instant::now() < deadline,
            "the proxy still holds idle connections to an upstream no route names"
        );
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(green.open.load(Ordering::SeqCst), 1, "the routed one stays");
    proxy.stop();
}

#[test]
fn an_upstream_that_hangs_up_kept_alive_connections_gets_every_request_on_a_new_one() {
    let upstream = Upstream::start_with("curt", true);
    let (_dir, proxy) = started();
    proxy.route_to(&upstream);
    for round in 0..20 {
        assert_eq!(proxy.get("/"), (200, "curt".to_owned()), "request {round}");
        if round % 2 == 0 {
            // Half the time the hang-up has surely arrived before the next request.
            thread::sleep(Duration::from_millis(20));
        }
    }
    assert_eq!(upstream.accepted.load(Ordering::SeqCst), 20);
    proxy.stop();
}

#[test]
fn no_upstream_is_503_and_a_dead_upstream_is_502() {
    let (_dir, proxy) = started();
    let (status, body) = proxy.get("/");
    assert_eq!(status, 503);
    assert!(body.contains("no upstream"), "{body}");

    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    proxy.admin(json!({ "set_upstream": dead.to_string() }));
    assert_eq!(proxy.get("/").0, 502);
}

#[test]
fn maintenance_answers_503_except_on_health_paths() {
    let blue = Upstream::start("blue");
    let (_dir, proxy) = started();
    proxy.route_to(&blue);
    let reply = proxy.admin(json!({ "maintenance": true }));
    assert_eq!(reply["routes"]["maintenance"], true);
    let (status, body) = proxy.get("/");
    assert_eq!(status, 503);
    assert!(body.contains("maintenance"), "{body}");
    assert_eq!(proxy.get("/health"), (200, "blue".to_owned()));

    proxy.admin(json!({ "maintenance": false }));
    assert_eq!(proxy.get("/"), (200, "blue".to_owned()));
}

#[test]
fn a_restarted_proxy_restores_its_routes() {
    let green = Upstream::start("green");
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let proxy = Proxy::start(dir.path(), port);
    proxy.route_to(&green);
    proxy.admin(json!({ "health_paths": ["/up"] }));
    proxy.stop();
    assert!(
        !dir.path().join("proxy.pid").exists(),
        "a clean stop removes the pid file"
    );

    let proxy = Proxy::start(dir.path(), port);
    let table = proxy.admin(json!({ "get": null }));
    assert_eq!(table["routes"]["upstream"], green.address.to_string());
    assert_eq!(table["routes"]["health_paths"], json!(["/up"]));
    assert_eq!(table["routes"]["version"], 2);
    assert_eq!(proxy.get("/"), (200, "green".to_owned()));
}

#[test]
fn the_admin_socket_is_owner_only_and_the_pid_file_names_the_process() {
    let (dir, proxy) = started();
    let mode = std::fs::metadata(dir.path().join("admin.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let pid = std::fs::read_to_string(dir.path().join("proxy.pid")).unwrap();
    assert_eq!(pid.trim(), proxy.child.id().to_string());
}

#[test]
fn forwarding_headers_reach_the_upstream() {
    let blue = Upstream::start("blue");
    let (_dir, proxy) = started();
    proxy.route_to(&blue);
    assert_eq!(proxy.get("/forwarded"), (200, "127.0.0.1|http".to_owned()));
}

#[test]
fn a_large_request_body_streams_through_intact() {
    let blue = Upstream::start("blue");
    let (_dir, proxy) = started();
    proxy.route_to(&blue);
    let body: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(31) >> 3) as u8)
        .collect();
    let expected = format!("{} {}", body.len(), blake3::hash(&body).to_hex());

    let url = format!("http://127.0.0.1:{}/sum", proxy.port);
    let patience = Patience {
        connect: Duration::from_secs(5),
        per_read: Duration::from_secs(20),
    };
    let answer = http_client::send("POST", &url, &[], Some(&body), patience).unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, expected);
}

#[test]
fn sigterm_stops_accepting_but_lets_an_in_flight_request_finish() {
    let blue = Upstream::start("blue");
    let (_dir, proxy) = started();
    proxy.route_to(&blue);
    let port = proxy.port;
    let slow = thread::spawn(move || http_get(port, "/slow").unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while proxy.admin(json!({ "get": null }))["in_flight"][blue.address.to_string()] != 1 {
        assert!(
            Instant::now() < deadline,
            "the slow request never showed as in flight"
        );
        thread::sleep(Duration::from_millis(20));
    }
    kill(Pid::from_raw(proxy.child.id() as i32), Signal::SIGTERM).unwrap();
    thread::sleep(Duration::from_millis(200));
    assert!(
        http_get(port, "/").is_err(),
        "a stopping proxy must not accept new connections"
    );
    assert_eq!(slow.join().unwrap(), (200, "blue".to_owned()));
    proxy.stop();
}

#[test]
fn h2c_requests_are_forwarded_to_an_http1_upstream() {
    use http_body_util::{BodyExt, Empty};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let green = Upstream::start("green");
    let (_dir, proxy) = started();
    proxy.route_to(&green);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, body) = runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port))
            .await
            .unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(connection);
        let request = hyper::Request::get(format!("http://127.0.0.1:{}/", proxy.port))
            .body(Empty::<bytes::Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.version(), hyper::Version::HTTP_2);
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    });
    assert_eq!((status, body.as_str()), (200, "green"));
}

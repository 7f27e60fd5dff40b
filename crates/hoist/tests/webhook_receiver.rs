//! A webhook receiver for tests: an HTTP/1.1 server on 127.0.0.1:0 — plain, or TLS with a
//! certificate it is given — that checks each request's `X-Hoist-Signature-256` against the
//! secret with its own HMAC-SHA256 (not hoist's code), records what arrived, and answers the
//! statuses it was given (then 200).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Header names lowercased.
    pub headers: HashMap<String, String>,
    pub body: String,
    /// Whether the signature header matched the body under the receiver's secret.
    pub signed: bool,
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("webhook body is not JSON ({e}): {}", self.body))
    }

    pub fn kind(&self) -> String {
        self.json()["event"]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

pub struct Receiver {
    pub address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    https: bool,
}

impl Receiver {
    /// Starts a receiver that checks signatures with `secret` and answers `statuses` in turn,
    /// then 200 to everything.
    pub fn start(secret: &str, statuses: &[u16]) -> Self {
        Self::listen(secret, statuses, None)
    }

    /// `start` over TLS, presenting `config`'s certificate; a connection whose handshake
    /// fails (the sender refused the certificate) records nothing.
    pub fn start_tls(secret: &str, statuses: &[u16], config: Arc<rustls::ServerConfig>) -> Self {
        Self::listen(secret, statuses, Some(config))
    }

    fn listen(secret: &str, statuses: &[u16], tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let address = listener.local_addr().expect("receiver address");
        let received = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<_>>(),
        ));
        let (secret, log) = (secret.to_owned(), Arc::clone(&received));
        let https = tls.is_some();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .is_err()
                {
                    continue;
                }
                let status = answers.lock().unwrap().pop_front().unwrap_or(200);
                let request = match &tls {
                    None => answer(stream, &secret, status),
                    Some(config) => rustls::ServerConnection::new(Arc::clone(config))
                        .ok()
                        .and_then(|tls| {
                            answer(rustls::StreamOwned::new(tls, stream), &secret, status)
                        }),
                };
                if let Some(request) = request {
                    log.lock().unwrap().push(request);
                }
            }
        });
        Self {
            address,
            received,
            https,
        }
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.address)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests arrived; panics after `timeout`.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver got {} requests, not {count}: {received:#?}",
                received.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn answer(mut stream: impl Read + Write, secret: &str, status: u16) -> Option<Received> {
    let mut reader = BufReader::new(&mut stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let signed = headers
        .get("x-hoist-signature-256")
        .is_some_and(|header| verify(secret.as_bytes(), &body, header));
    drop(reader);
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    let _ = stream.flush();
    Some(Received {
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        signed,
        status,
    })
}

fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap();
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    expected == hex
}

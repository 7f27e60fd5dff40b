//! One client connection of a run: a keep-alive HTTP/1.1 connection it owns, reopened
//! after any failure. It drives hyper's connection API directly rather than a pooled
//! client, so each of `--connections` is exactly one TCP connection and no request is
//! retried behind the run's back: a request that fails is recorded as failed.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HOST, HeaderValue, USER_AGENT};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::outcome::{ErrorKind, Outcome, Record};

/// What every connection of a run sends, and where.
#[derive(Debug, Clone)]
pub struct Target {
    pub address: SocketAddr,
    /// The `Host` header: the URL's authority.
    pub host: HeaderValue,
    /// The path and query to request.
    pub path: Uri,
    pub timeout: Duration,
    /// Sent with every request, after `Host` and `User-Agent`.
    pub headers: Vec<(hyper::header::HeaderName, HeaderValue)>,
}

/// Turns the monotonic clock into unix time without a system call per request.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
    origin_unix_ns: u128,
}

impl Clock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            origin_unix_ns: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos()),
        }
    }

    pub fn unix_ns(&self, at: Instant) -> u128 {
        self.origin_unix_ns + at.saturating_duration_since(self.origin).as_nanos()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug)]
pub struct Connection {
    target: Target,
    clock: Clock,
    sender: Option<SendRequest<Empty<Bytes>>>,
}

impl Connection {
    pub fn new(target: Target, clock: Clock) -> Self {
        Self {
            target,
            clock,
            sender: None,
        }
    }

    /// Sends one request and reads its whole response. The latency includes opening the
    /// connection when it had to be (re)opened, as any client would wait for that too.
    pub async fn request(&mut self) -> Record {
        let started = Instant::now();
        let outcome = match tokio::time::timeout(self.target.timeout, self.exchange()).await {
            Ok(Ok(status)) => Outcome::Status(status),
            Ok(Err(kind)) => Outcome::Failed(kind),
            Err(_) => Outcome::Failed(ErrorKind::Timeout),
        };
        if !matches!(outcome, Outcome::Status(_)) {
            // After a failure the connection's state is unknown: start the next one afresh.
            self.sender = None;
        }
        Record {
            start_unix_ns: self.clock.unix_ns(started),
            latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            outcome,
        }
    }

    async fn exchange(&mut self) -> Result<u16, ErrorKind> {
        let mut request = Request::new(Empty::new());
        *request.uri_mut() = self.target.path.clone();
        let headers = request.headers_mut();
        headers.insert(HOST, self.target.host.clone());
        headers.insert(USER_AGENT, HeaderValue::from_static("hoist-loadgen"));
        for (name, value) in &self.target.headers {
            headers.insert(name.clone(), value.clone());
        }
        let sender = self.ready_sender().await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ErrorKind::of_request_failure(&e))?;
        let status = response.status().as_u16();
        // A response counts only once its body has arrived whole.
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| ErrorKind::of_request_failure(&e))?;
        Ok(status)
    }

    /// The open connection if the server kept it open, else a new one.
    async fn ready_sender(&mut self) -> Result<&mut SendRequest<Empty<Bytes>>, ErrorKind> {
        if let Some(sender) = &mut self.sender {
            // Waits for the previous response to be fully read; fails if the server closed.
            if sender.ready().await.is_err() {
                self.sender = None;
            }
        }
        if self.sender.is_none() {
            self.sender = Some(self.open().await?);
        }
        self.sender.as_mut().ok_or(ErrorKind::Other)
    }

    async fn open(&self) -> Result<SendRequest<Empty<Bytes>>, ErrorKind> {
        let stream = TcpStream::connect(self.target.address)
            .await
            .map_err(|_| ErrorKind::Connect)?;
        // Small requests must go out at once, not wait for Nagle's algorithm.
        stream.set_nodelay(true).map_err(|_| ErrorKind::Connect)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ErrorKind::of_request_failure(&e))?;
        // The connection ends when the sender is dropped or the server closes it; its error,
        // if any, surfaces through the request that was using it.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}

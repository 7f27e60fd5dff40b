//! The tests' one HTTP client: ureq, the crate hoist's own clients are built on. Every request
//! has a connection of its own — no pool, so nothing is ever retried on a reused one: a load
//! loop counts each request's own answer. Every status is an answer, not an error. Requests no
//! client would send (a header that is not one, a body that lies about its type) are written
//! byte by byte by `api_server::Server::raw` instead.

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use ureq::http::Request;

/// An answer: its status, its head (`HTTP/1.1 STATUS` and one `name: value` line per header,
/// names in lower case) and its body, decoded from chunks.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// The open body of an answer that keeps coming (an event stream), with its status and head.
pub struct Stream {
    pub status: u16,
    pub head: String,
    pub body: Box<dyn Read + Send>,
}

/// How long a request may wait: to connect, and for each read.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub connect: Duration,
    pub per_read: Duration,
}

impl Patience {
    /// Enough for a loaded test machine, short enough that a dead server fails the test.
    pub const TEST: Self = Self {
        connect: Duration::from_secs(5),
        per_read: Duration::from_secs(10),
    };
    /// A load loop's request: a swap that stalls connections shows as failures.
    pub const LOAD: Self = Self {
        connect: Duration::from_secs(2),
        per_read: Duration::from_secs(5),
    };
}

fn agent(patience: Patience) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .timeout_connect(Some(patience.connect))
        .timeout_per_read(Some(patience.per_read))
        .build()
        .new_agent()
}

/// `method url` with `headers` and an optional body; `Err` when no whole answer came.
pub fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    patience: Patience,
) -> Result<Answer, String> {
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let sent = match body {
        None => agent(patience).run(request.body(()).map_err(|e| e.to_string())?),
        Some(body) => agent(patience).run(request.body(body.to_vec()).map_err(|e| e.to_string())?),
    };
    let mut response = sent.map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    let head = head(&response);
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|error| error.to_string())?;
    Ok(Answer { status, head, body })
}

/// `GET path` at `address` (loopback, or a test host in a network namespace).
pub fn get(address: SocketAddr, path: &str, patience: Patience) -> Result<Answer, String> {
    send(
        "GET",
        &format!("http://{address}{path}"),
        &[],
        None,
        patience,
    )
}

/// `GET url` with `headers`, its body left open to read as it comes.
pub fn open(url: &str, headers: &[(&str, &str)], patience: Patience) -> Result<Stream, String> {
    let mut request = Request::builder().method("GET").uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = agent(patience)
        .run(request.body(()).map_err(|e| e.to_string())?)
        .map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    let head = head(&response);
    let body = Box::new(response.into_body().into_reader());
    Ok(Stream { status, head, body })
}

fn head<B>(response: &ureq::http::Response<B>) -> String {
    let mut head = format!("HTTP/1.1 {}", response.status().as_u16());
    for (name, value) in response.headers() {
        head.push_str(&format!(
            "\r\n{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    head
}

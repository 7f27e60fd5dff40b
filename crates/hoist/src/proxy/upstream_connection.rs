//! One kept-alive HTTP/1.1 connection to an upstream, and one exchange on it, done in the
//! request's own task: the request written out (head and body), the response head read and
//! parsed with httparse, the body left on the connection for `UpstreamBody` to read.
//! hyper's client does the same through a connection task the request talks to over a
//! channel; here nothing else runs, and a small response (head and body in one read) hands
//! the connection back before the client has been answered.

use std::future::poll_fn;
use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::io::poll_read_buf;

use crate::proxy::upstream_body::{Framing, chunk_header};

/// How long an upstream gets to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A response head larger than this is refused (nginx's default buffers are smaller).
const MAX_HEAD: usize = 64 * 1024;
/// The most header fields a response head may have.
const MAX_HEADERS: usize = 128;
/// What a read asks the kernel for at least.
const READ_SIZE: usize = 16 * 1024;

#[derive(Debug)]
pub struct UpstreamConnection {
    stream: TcpStream,
    /// What was read and not yet used: the rest of a head, then the body's bytes.
    pub(crate) buffer: BytesMut,
}

/// Why an exchange failed, and whether it may go again on another connection.
#[derive(Debug)]
pub struct ExchangeError {
    pub error: io::Error,
    /// Nothing of the request was taken and nothing came back: a kept-alive connection the
    /// upstream had just closed. The request, still whole, is handed back.
    pub unsent: Option<Request<Incoming>>,
}

/// The parsed head of a response and how its body is framed.
#[derive(Debug)]
pub struct ResponseHead {
    pub response: Response<()>,
    pub framing: Framing,
    /// Whether the connection may carry another exchange after this body.
    pub keep_alive: bool,
}

impl UpstreamConnection {
    pub async fn dial(upstream: SocketAddr) -> io::Result<Self> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream))
            .await
            .map_err(|_| {
                io::Error::new(
                    ErrorKind::TimedOut,
                    format!("no connection within {}s", CONNECT_TIMEOUT.as_secs()),
                )
            })??;
        // Requests go out whole at once; Nagle would only hold back the tail.
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buffer: BytesMut::new(),
        })
    }

    /// Whether an idle connection can take a request: the upstream has not closed it and
    /// sent nothing unasked.
    pub fn is_usable(&self) -> bool {
        if !self.buffer.is_empty() {
            return false;
        }
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == ErrorKind::WouldBlock)
    }

    /// Sends `request` and reads the response's head. `reused` says whether the connection
    /// carried an exchange before (only then can a failure be the upstream's idle close).
    pub async fn exchange(
        &mut self,
        request: Request<Incoming>,
        reused: bool,
    ) -> Result<ResponseHead, ExchangeError> {
        let head_only = request.body().is_end_stream();
        let is_head = request.method() == Method::HEAD;
        let mut head = Vec::with_capacity(512);
        let chunked = encode_head(&request, head_only, &mut head);
        if head_only {
            let written = self.stream.write_all(&head).await;
            let read = match written {
                Ok(()) => self.read_head(is_head).await,
                Err(error) => Err(error),
            };
            return read.map_err(|error| {
                // Nothing came back on a connection that carried an exchange before: it was
                // closed while idle, and the request (which has no body) can go again.
                let unsent =
                    (reused && self.buffer.is_empty() && is_idle_close(&error)).then_some(request);
                ExchangeError { error, unsent }
            });
        }
        let failed = |error| ExchangeError {
            error,
            unsent: None,
        };
        self.stream.write_all(&head).await.map_err(failed)?;
        self.send_body(request.into_body(), chunked)
            .await
            .map_err(failed)?;
        self.read_head(is_head).await.map_err(failed)
    }

    /// Streams the request body out, chunked when its length is not known.
    async fn send_body(&mut self, mut body: Incoming, chunked: bool) -> io::Result<()> {
        let mut framed = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| io::Error::other(format!("the client's body: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers are not forwarded
            };
            if data.is_empty() {
                continue;
            }
            if chunked {
                framed.clear();
                framed.extend_from_slice(chunk_header(data.len()).as_bytes());
                framed.extend_from_slice(&data);
                framed.extend_from_slice(b"\r\n");
                self.stream.write_all(&framed).await?;
            } else {
                self.stream.write_all(&data).await?;
            }
        }
        if chunked {
            self.stream.write_all(b"0\r\n\r\n").await?;
        }
        Ok(())
    }

    /// Reads until a final response head has arrived (interim 1xx answers are skipped).
    async fn read_head(&mut self, is_head: bool) -> io::Result<ResponseHead> {
        loop {
            if !self.buffer.is_empty()
                && let Some((length, head)) = parse_head(&self.buffer, is_head)?
            {
                self.buffer.advance(length);
                match head {
                    Some(head) => return Ok(head),
                    None => continue,
                }
            }
            if self.buffer.len() > MAX_HEAD {
                return Err(io::Error::new(
                    ErrorKind::InvalidData,
                    format!("a response head over {} KiB", MAX_HEAD / 1024),
                ));
            }
            let read = poll_fn(|context| self.poll_fill(context)).await?;
            if read == 0 {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "the upstream closed the connection before a response",
                ));
            }
        }
    }

    /// Reads what the kernel has into the buffer; 0 is the end of the stream.
    pub(crate) fn poll_fill(&mut self, context: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buffer.capacity() - self.buffer.len() < READ_SIZE / 4 {
            self.buffer.reserve(READ_SIZE);
        }
        // Through `poll_read`, not `try_read_buf`: a read that did not fill the buffer drained
        // the socket, and tokio then forgets its readiness, so the idle check before the next
        // exchange (`is_usable`) makes no system call.
        poll_read_buf(Pin::new(&mut self.stream), context, &mut self.buffer)
    }

    /// Takes up to `most` buffered bytes.
    pub(crate) fn take(&mut self, most: usize) -> Bytes {
        let count = most.min(self.buffer.len());
        self.buffer.split_to(count).freeze()
    }
}

/// Whether an exchange's failure looks like the upstream closing an idle connection.
fn is_idle_close(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::BrokenPipe
            | ErrorKind::ConnectionAborted
    )
}

/// Writes the request line and headers; true if the body goes chunked.
fn encode_head(request: &Request<Incoming>, head_only: bool, out: &mut Vec<u8>) -> bool {
    out.extend_from_slice(request.method().as_str().as_bytes());
    out.push(b' ');
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in request.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let has_length = request.headers().contains_key(header::CONTENT_LENGTH);
    let chunked = !head_only && !has_length;
    if chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    } else if head_only && !has_length && expects_body(request.method()) {
        // An HTTP/2 client's empty POST carries no length; HTTP/1 needs one.
        out.extend_from_slice(b"content-length: 0\r\n");
    }
    out.extend_from_slice(b"\r\n");
    chunked
}

fn expects_body(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH)
}

/// Parses a response head at the start of `bytes`: `None` while incomplete, else its length
/// and the head (`None` for an interim 1xx answer, which is skipped).
fn parse_head(bytes: &[u8], is_head: bool) -> io::Result<Option<(usize, Option<ResponseHead>)>> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut fields);
    let length = match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("an invalid response head: {error}"),
            ));
        }
    };
    let code = parsed.code.unwrap_or(0);
    let status = StatusCode::from_u16(code).map_err(|_| invalid("status", code))?;
    if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(Some((length, None)));
    }
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for field in parsed.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| invalid("header name", field.name))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| invalid("header value", field.name))?;
        headers.append(name, value);
    }
    let http_10 = parsed.version == Some(0);
    let (framing, keep_alive) = framing(&headers, status, is_head)?;
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = Version::HTTP_11;
    let closes = connection_has(&headers, "close") || http_10;
    *response.headers_mut() = headers;
    Ok(Some((
        length,
        Some(ResponseHead {
            response,
            framing,
            keep_alive: keep_alive && !closes,
        }),
    )))
}

fn invalid(what: &str, value: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        ErrorKind::InvalidData,
        format!("an invalid response {what}: {value}"),
    )
}

/// How the body is delimited (RFC 9112 §6.3), and whether the connection survives it.
fn framing(headers: &HeaderMap, status: StatusCode, is_head: bool) -> io::Result<(Framing, bool)> {
    if is_head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok((Framing::Length(0), true));
    }
    if let Some(coding) = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .next_back()
    {
        let last = coding
            .to_str()
            .unwrap_or("")
            .rsplit(',')
            .next()
            .unwrap_or("");
        return Ok(match last.trim().eq_ignore_ascii_case("chunked") {
            // A length beside a coding is a smuggling attempt's shape: never reuse.
            true => (
                Framing::Chunked,
                !headers.contains_key(header::CONTENT_LENGTH),
            ),
            false => (Framing::UntilClose, false),
        });
    }
    let mut lengths = headers.get_all(header::CONTENT_LENGTH).iter();
    let Some(first) = lengths.next() else {
        return Ok((Framing::UntilClose, false));
    };
    let length = parse_length(first)?;
    if lengths.any(|other| parse_length(other).ok() != Some(length)) {
        return Err(invalid("Content-Length", "several that differ"));
    }
    Ok((Framing::Length(length), true))
}

fn parse_length(value: &HeaderValue) -> io::Result<u64> {
    value
        .to_str()
        .ok()
        .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| invalid("Content-Length", String::from_utf8_lossy(value.as_bytes())))
}

fn connection_has(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|option| option.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &str, is_head: bool) -> ResponseHead {
        let (length, head) = parse_head(bytes.as_bytes(), is_head).unwrap().unwrap();
        assert_eq!(length, bytes.find("\r\n\r\n").unwrap() + 4);
        head.expect("a final response")
    }

    #[test]
    fn the_framing_follows_rfc_9112() {
        let length = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false);
        assert_eq!(length.framing, Framing::Length(5));
        assert!(length.keep_alive);
        let chunked = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
        );
        assert_eq!(chunked.framing, Framing::Chunked);
        assert!(chunked.keep_alive);
        let until_close = head("HTTP/1.1 200 OK\r\n\r\n", false);
        assert_eq!(until_close.framing, Framing::UntilClose);
        assert!(!until_close.keep_alive);
        let to_head = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true);
        assert_eq!(to_head.framing, Framing::Length(0));
        let no_content = head("HTTP/1.1 204 No Content\r\n\r\n", false);
        assert_eq!(no_content.framing, Framing::Length(0));
        assert!(no_content.keep_alive);
        let closing = head(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            false,
        );
        assert!(!closing.keep_alive);
        let old = head("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", false);
        assert!(!old.keep_alive);
        let both = head(
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            false,
        );
        assert_eq!(both.framing, Framing::Chunked);
        assert!(!both.keep_alive, "a length beside chunked is never reused");
    }

    #[test]
    fn interim_answers_are_skipped_and_partial_heads_wait() {
        let (length, interim) = parse_head(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1", false)
            .unwrap()
            .unwrap();
        assert_eq!(length, 25);
        assert!(interim.is_none());
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Le", false)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn bad_heads_are_errors() {
        for bad in [
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            "NOT HTTP\r\n\r\n",
        ] {
            assert!(parse_head(bad.as_bytes(), false).is_err(), "{bad:?}");
        }
    }
}

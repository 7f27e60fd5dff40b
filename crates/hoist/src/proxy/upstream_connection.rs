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
use hyper::{Method, Request};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::io::poll_read_buf;

use crate::proxy::upstream_body::chunk_header;
use crate::proxy::upstream_head::{
    Forwarding, ResponseHead, encode_request_head, parse_response_head,
};

/// How long an upstream gets to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A response head larger than this is refused (nginx's default buffers are smaller).
const MAX_HEAD: usize = 64 * 1024;
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
        forwarding: Forwarding,
        reused: bool,
    ) -> Result<ResponseHead, ExchangeError> {
        let head_only = request.body().is_end_stream();
        let is_head = request.method() == Method::HEAD;
        let mut head = Vec::with_capacity(512);
        let chunked = encode_request_head(&request, head_only, forwarding, &mut head);
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
                && let Some((length, head)) = parse_response_head(&self.buffer, is_head)?
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

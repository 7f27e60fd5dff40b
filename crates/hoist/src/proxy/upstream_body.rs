//! An upstream's response body, read straight off its connection as the client takes it:
//! by its length, chunk by chunk, or to the connection's end. When it ends on a connection
//! that may be kept, the connection goes back to its thread's pool; a body dropped before its
//! end (the client went away) takes its connection with it, since the rest is on the wire.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use hyper::body::{Body, Frame, SizeHint};

use crate::proxy::upstream_connection::UpstreamConnection;
use crate::proxy::upstream_pool::UpstreamPool;

/// The longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// The size line of a chunk of `length` bytes.
pub fn chunk_header(length: usize) -> String {
    format!("{length:x}\r\n")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// This many bytes of a length-delimited body are left.
    Length(u64),
    /// A chunk-size line comes next.
    ChunkSize,
    /// This many bytes of the current chunk are left.
    ChunkData(u64),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// Trailer lines, up to an empty one.
    Trailers,
    UntilClose,
    Done,
}

/// Where the connection goes when the body ends.
#[derive(Debug)]
pub struct Returning {
    pub pool: UpstreamPool,
    pub upstream: SocketAddr,
    pub keep_alive: bool,
}

#[derive(Debug)]
pub struct UpstreamBody {
    /// The whole body, when it had arrived with the head (the connection is already back).
    whole: Option<Bytes>,
    connection: Option<UpstreamConnection>,
    state: State,
    returning: Option<Returning>,
}

impl UpstreamBody {
    /// The body of a response whose head was just read from `connection`.
    pub fn new(mut connection: UpstreamConnection, framing: Framing, returning: Returning) -> Self {
        let state = match framing {
            Framing::Length(length) => State::Length(length),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
        // The common case: the whole body came with the head. The connection goes back now.
        if let State::Length(length) = state
            && let Ok(length) = usize::try_from(length)
            && length <= connection.buffer.len()
        {
            let whole = connection.take(length);
            let mut body = Self {
                whole: (!whole.is_empty()).then_some(whole),
                connection: Some(connection),
                state: State::Done,
                returning: Some(returning),
            };
            body.finish();
            return body;
        }
        Self {
            whole: None,
            connection: Some(connection),
            state,
            returning: Some(returning),
        }
    }

    /// Gives the connection back if it can carry another exchange; closes it otherwise.
    fn finish(&mut self) {
        let (Some(connection), Some(returning)) = (self.connection.take(), self.returning.take())
        else {
            return;
        };
        // Bytes past the body's end are something the upstream should not have sent.
        if returning.keep_alive && connection.buffer.is_empty() {
            returning.pool.give_back(returning.upstream, connection);
        }
    }

    /// Moves the decoder over what is buffered; a data frame when there is one, `None` when
    /// more must be read first. Sets `Done` at the end.
    fn step(&mut self) -> io::Result<Option<Bytes>> {
        let Some(connection) = self.connection.as_mut() else {
            self.state = State::Done;
            return Ok(None);
        };
        loop {
            let buffered = connection.buffer.len();
            match self.state {
                State::Done => return Ok(None),
                State::Length(0) => self.state = State::Done,
                State::Length(left) | State::ChunkData(left) if buffered > 0 => {
                    let data = connection.take(usize::try_from(left).unwrap_or(usize::MAX));
                    let left = left - data.len() as u64;
                    self.state = match self.state {
                        State::Length(_) => State::Length(left),
                        _ if left == 0 => State::ChunkEnd,
                        _ => State::ChunkData(left),
                    };
                    if self.state == State::Length(0) {
                        self.state = State::Done;
                    }
                    return Ok(Some(data));
                }
                State::UntilClose if buffered > 0 => return Ok(Some(connection.take(buffered))),
                State::ChunkEnd if buffered >= 2 => {
                    if &connection.buffer[..2] != b"\r\n" {
                        return Err(bad_chunk("no CRLF after a chunk's data"));
                    }
                    connection.buffer.advance(2);
                    self.state = State::ChunkSize;
                }
                State::ChunkSize | State::Trailers => {
                    let Some(end) = connection.buffer.windows(2).position(|w| w == b"\r\n") else {
                        if buffered > MAX_LINE {
                            return Err(bad_chunk("a chunk line too long"));
                        }
                        return Ok(None);
                    };
                    let line = connection.buffer.split_to(end + 2);
                    let line = &line[..end];
                    self.state = match self.state {
                        State::Trailers if line.is_empty() => State::Done,
                        State::Trailers => State::Trailers,
                        _ => match chunk_size(line)? {
                            0 => State::Trailers,
                            size => State::ChunkData(size),
                        },
                    };
                }
                State::Length(_) | State::ChunkData(_) | State::UntilClose | State::ChunkEnd => {
                    return Ok(None);
                }
            }
        }
    }
}

fn bad_chunk(why: &str) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, format!("a bad chunked body: {why}"))
}

/// A chunk-size line's size (extensions after `;` ignored).
fn chunk_size(line: &[u8]) -> io::Result<u64> {
    let digits = line.split(|&b| b == b';').next().unwrap_or(line);
    let digits = std::str::from_utf8(digits).unwrap_or("").trim();
    if digits.is_empty() || digits.len() > 15 {
        return Err(bad_chunk("a bad chunk size"));
    }
    u64::from_str_radix(digits, 16).map_err(|_| bad_chunk("a bad chunk size"))
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let body = self.get_mut();
        if let Some(whole) = body.whole.take() {
            return Poll::Ready(Some(Ok(Frame::data(whole))));
        }
        loop {
            match body.step() {
                Err(error) => {
                    body.connection = None;
                    return Poll::Ready(Some(Err(error)));
                }
                Ok(Some(data)) => {
                    if body.state == State::Done {
                        body.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(None) if body.state == State::Done => {
                    body.finish();
                    return Poll::Ready(None);
                }
                Ok(None) => {}
            }
            let Some(connection) = body.connection.as_mut() else {
                return Poll::Ready(None);
            };
            let read = ready!(connection.poll_fill(context));
            match read {
                Ok(0) if body.state == State::UntilClose => {
                    body.state = State::Done;
                    body.connection = None;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    body.connection = None;
                    return Poll::Ready(Some(Err(io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "the upstream closed the connection before the body's end",
                    ))));
                }
                Ok(_) => {}
                Err(error) => {
                    body.connection = None;
                    return Poll::Ready(Some(Err(error)));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.whole.is_none() && matches!(self.state, State::Done | State::Length(0))
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.whole, self.state) {
            (Some(whole), _) => SizeHint::with_exact(whole.len() as u64),
            (None, State::Length(left)) => SizeHint::with_exact(left),
            (None, State::Done) => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_are_hex_with_extensions_ignored() {
        assert_eq!(chunk_size(b"1a").unwrap(), 26);
        assert_eq!(chunk_size(b"A;name=value").unwrap(), 10);
        assert_eq!(chunk_size(b"0").unwrap(), 0);
        for bad in [&b""[..], b"xyz", b"-1", b"1234567890abcdef0"] {
            assert!(chunk_size(bad).is_err(), "{bad:?}");
        }
        assert_eq!(chunk_header(26), "1a\r\n");
    }
}

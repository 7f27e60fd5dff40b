//! The upstream connections of one serving thread: HTTP/1.1 keep-alive connections to each
//! upstream, taken for one exchange and given back when its response body has been read.
//! hyper's pooled client does this through a keyed pool shared by all its users, a checkout
//! future raced against a connect future, and a task per request that waits for the
//! connection to be reusable; that machinery cost about a tenth of the proxy's time per
//! request. Here a request pops an idle connection from a short list (or dials one), and
//! the response body puts it back the moment the body ends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::proxy::forward::BodyError;

/// How long an upstream gets to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// An idle connection older than this is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an idle connection may take to be ready for its next request.
const READY_WAIT: Duration = Duration::from_secs(1);
/// Idle connections kept per upstream; more than this many at once are closed when done.
const MAX_IDLE: usize = 256;

/// One thread's idle connections, by upstream. The lock is only ever taken by the thread
/// that owns the pool (so it is never contended); it is there because hyper's server wants
/// its futures `Send`.
#[derive(Debug, Clone, Default)]
pub struct UpstreamPool {
    idle: Arc<Mutex<HashMap<SocketAddr, Vec<IdleConnection>>>>,
}

#[derive(Debug)]
struct IdleConnection {
    sender: SendRequest<Incoming>,
    since: Instant,
}

impl UpstreamPool {
    /// Sends `request` to `upstream` on an idle connection, or a new one.
    pub async fn send(
        &self,
        upstream: SocketAddr,
        mut request: Request<Incoming>,
    ) -> Result<Response<UpstreamBody>, BodyError> {
        loop {
            let (mut sender, reused) = match self.take(upstream).await {
                Some(sender) => (sender, true),
                None => (dial(upstream).await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.watch_body(response, sender, upstream)),
                // A kept-alive connection the upstream closed as the request went out gives
                // it back unsent: it goes again, on the next idle connection or a new one.
                Err(mut error) => match error.take_message() {
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(Box::new(error.into_error())),
                },
            }
        }
    }

    /// Closes idle connections that are too old or lead to an upstream `keep` rejects (one
    /// the routes no longer name: holding its connections open could keep it from exiting).
    pub fn prune(&self, keep: impl Fn(SocketAddr) -> bool) {
        let now = Instant::now();
        self.lock().retain(|upstream, idle| {
            idle.retain(|c| now.duration_since(c.since) < IDLE_TIMEOUT && !c.sender.is_closed());
            keep(*upstream) && !idle.is_empty()
        });
    }

    /// The most recently used idle connection that still works.
    async fn take(&self, upstream: SocketAddr) -> Option<SendRequest<Incoming>> {
        loop {
            let IdleConnection { mut sender, since } = self.lock().get_mut(&upstream)?.pop()?;
            if since.elapsed() >= IDLE_TIMEOUT {
                continue;
            }
            // Given back when its body ended, its connection may take a moment more to be
            // ready for the next request; a closed one answers with an error at once, and one
            // that stays busy (it should not) is given up rather than waited for.
            if sender.is_ready()
                || matches!(
                    tokio::time::timeout(READY_WAIT, sender.ready()).await,
                    Ok(Ok(()))
                )
            {
                return Some(sender);
            }
        }
    }

    fn give_back(&self, upstream: SocketAddr, sender: SendRequest<Incoming>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.lock();
        let list = idle.entry(upstream).or_default();
        if list.len() < MAX_IDLE {
            list.push(IdleConnection {
                sender,
                since: Instant::now(),
            });
        }
    }

    fn watch_body(
        &self,
        response: Response<Incoming>,
        sender: SendRequest<Incoming>,
        upstream: SocketAddr,
    ) -> Response<UpstreamBody> {
        let (parts, inner) = response.into_parts();
        let mut returning = Some(Returning {
            pool: self.clone(),
            upstream,
            sender,
        });
        if inner.is_end_stream()
            && let Some(returning) = returning.take()
        {
            returning.give_back();
        }
        Response::from_parts(parts, UpstreamBody { inner, returning })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Vec<IdleConnection>>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

async fn dial(upstream: SocketAddr) -> Result<SendRequest<Incoming>, BodyError> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream))
        .await
        .map_err(|_| format!("no connection within {}s", CONNECT_TIMEOUT.as_secs()))??;
    // Requests go out whole at once; Nagle would only hold back the tail.
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // An upstream that hangs up is noticed by the exchange on it, if any.
        let _ = connection.await;
    });
    Ok(sender)
}

#[derive(Debug)]
struct Returning {
    pool: UpstreamPool,
    upstream: SocketAddr,
    sender: SendRequest<Incoming>,
}

impl Returning {
    fn give_back(self) {
        self.pool.give_back(self.upstream, self.sender);
    }
}

/// An upstream's response body; its connection goes back to the pool when it ends. One
/// dropped before its end (the client went away) takes its connection with it, since the
/// rest of that response is still on the wire.
#[derive(Debug)]
pub struct UpstreamBody {
    inner: Incoming,
    returning: Option<Returning>,
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let body = self.get_mut();
        let polled = Pin::new(&mut body.inner).poll_frame(context);
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => body.inner.is_end_stream(),
            Poll::Ready(Some(Err(_))) | Poll::Pending => false,
        };
        if ended && let Some(returning) = body.returning.take() {
            returning.give_back();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

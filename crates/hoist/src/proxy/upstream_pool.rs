//! The upstream connections of one serving thread: HTTP/1.1 keep-alive connections to each
//! upstream, taken for one exchange and given back when its response body has been read.
//! hyper's pooled client does this through a keyed pool shared by all its users, a checkout
//! future raced against a connect future, and a task per connection the request talks to
//! over a channel; that machinery cost a good part of the proxy's time per request. Here a
//! request pops an idle connection from a short list (or dials one), does the exchange in its
//! own task (`UpstreamConnection`), and the response body puts it back the moment it ends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::{Request, Response};

use crate::proxy::forward::BodyError;
use crate::proxy::upstream_body::{Returning, UpstreamBody};
use crate::proxy::upstream_connection::UpstreamConnection;
use crate::proxy::upstream_head::Forwarding;

/// An idle connection older than this is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
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
    connection: UpstreamConnection,
    since: Instant,
}

impl UpstreamPool {
    /// Sends `request` to its upstream on an idle connection, or a new one.
    pub async fn send(
        &self,
        forwarding: Forwarding,
        mut request: Request<Incoming>,
    ) -> Result<Response<UpstreamBody>, BodyError> {
        let upstream = forwarding.upstream;
        loop {
            let (mut connection, reused) = match self.take(upstream) {
                Some(connection) => (connection, true),
                None => (UpstreamConnection::dial(upstream).await?, false),
            };
            match connection.exchange(request, forwarding, reused).await {
                Ok(head) => {
                    let returning = Returning {
                        pool: self.clone(),
                        upstream,
                        keep_alive: head.keep_alive,
                    };
                    let (parts, ()) = head.response.into_parts();
                    let body = UpstreamBody::new(connection, head.framing, returning);
                    return Ok(Response::from_parts(parts, body));
                }
                // A kept-alive connection the upstream closed as the request went out gives
                // it back unsent: it goes again, on the next idle connection or a new one.
                Err(failed) => match failed.unsent {
                    Some(unsent) => request = unsent,
                    None => return Err(Box::new(failed.error)),
                },
            }
        }
    }

    /// Closes idle connections that are too old, that the upstream closed, or that lead to
    /// an upstream `keep` rejects (one the routes no longer name: holding its connections
    /// open could keep it from exiting).
    pub fn prune(&self, keep: impl Fn(SocketAddr) -> bool) {
        let now = Instant::now();
        self.lock().retain(|upstream, idle| {
            idle.retain(|c| now.duration_since(c.since) < IDLE_TIMEOUT && c.connection.is_usable());
            keep(*upstream) && !idle.is_empty()
        });
    }

    /// The most recently used idle connection that still works.
    fn take(&self, upstream: SocketAddr) -> Option<UpstreamConnection> {
        let mut idle = self.lock();
        let list = idle.get_mut(&upstream)?;
        while let Some(IdleConnection { connection, since }) = list.pop() {
            if since.elapsed() < IDLE_TIMEOUT && connection.is_usable() {
                return Some(connection);
            }
        }
        None
    }

    pub(crate) fn give_back(&self, upstream: SocketAddr, connection: UpstreamConnection) {
        let mut idle = self.lock();
        let list = idle.entry(upstream).or_default();
        if list.len() < MAX_IDLE {
            list.push(IdleConnection {
                connection,
                since: Instant::now(),
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Vec<IdleConnection>>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

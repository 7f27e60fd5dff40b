//! The threads that answer clients: one per core, each with its own single-threaded
//! runtime and its own upstream connection pool. The control thread accepts connections and
//! deals them out in turn; from then on a client connection stays on its thread, and so does
//! everything its requests need (the upstream exchange included), so a request never waits
//! on a wake-up from another thread. With one work-stealing runtime those cross-thread
//! wake-ups cost about as much as the forwarding itself. nginx's worker processes work the
//! same way; dealing connections out (rather than every thread accepting) keeps the threads
//! evenly loaded even when all clients connect at once.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::proxy::forward::Forwarder;

/// A slow client gets this long to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

type Accepted = (StdTcpStream, SocketAddr);

/// The running serving threads. Dropping this stops them (no more connections come; the
/// ones they have finish their requests in flight within the drain timeout) and waits.
#[derive(Debug)]
pub struct ServingThreads {
    connections: Vec<mpsc::UnboundedSender<Accepted>>,
    threads: Vec<JoinHandle<()>>,
    next: usize,
}

impl ServingThreads {
    /// Starts one thread per core; each builds its own forwarder with `forwarder`.
    pub fn start(forwarder: impl Fn() -> Forwarder, drain_timeout: Duration) -> Result<Self> {
        let count = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let mut started = Self {
            connections: Vec::with_capacity(count),
            threads: Vec::with_capacity(count),
            next: 0,
        };
        for _ in 0..count {
            let (sender, receiver) = mpsc::unbounded_channel();
            started
                .threads
                .push(start_thread(receiver, forwarder(), drain_timeout)?);
            started.connections.push(sender);
        }
        Ok(started)
    }

    /// Hands an accepted connection to the next thread in turn.
    pub fn serve(&mut self, stream: TcpStream, client: SocketAddr) {
        // Moving it to another runtime means leaving this one's reactor first.
        let Ok(stream) = stream.into_std() else {
            return;
        };
        self.next = (self.next + 1) % self.connections.len();
        // A thread that is gone (it panicked) takes no connections; the client is refused.
        let _ = self.connections[self.next].send((stream, client));
    }
}

impl Drop for ServingThreads {
    fn drop(&mut self) {
        self.connections.clear();
        for thread in self.threads.drain(..) {
            // A thread that panicked has nothing left to drain.
            let _ = thread.join();
        }
    }
}

fn start_thread(
    connections: mpsc::UnboundedReceiver<Accepted>,
    forwarder: Forwarder,
    drain_timeout: Duration,
) -> Result<JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal("could not start a proxy runtime").cause(e))?;
    std::thread::Builder::new()
        .name("hoist-proxy".to_owned())
        .spawn(move || runtime.block_on(serve(connections, forwarder, drain_timeout)))
        .map_err(|e| Error::internal("could not start a proxy thread").cause(e))
}

/// Once a second, closes idle upstream connections that are old or no longer routed.
///
/// The tick does a second job: tokio wakes its own driver through an eventfd (a write, then
/// an extra `epoll_wait`) whenever a timer is set to fire before the earliest one it last
/// went to sleep toward. Every request sets two: its 60 s upstream response timeout, then
/// its connection's 30 s header-read timeout, which is earlier, so that happened on every
/// request. A timer that is always due within a second keeps every request's timers later
/// than the earliest.
async fn tend_upstream_connections(forwarder: Arc<Forwarder>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        forwarder.prune_idle_connections();
    }
}

/// Serves the connections dealt to this thread until the control thread stops dealing.
async fn serve(
    mut connections: mpsc::UnboundedReceiver<Accepted>,
    forwarder: Forwarder,
    drain_timeout: Duration,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    // One per thread: its clones (one a request) count on this thread's memory.
    let forwarder = Arc::new(forwarder);
    tokio::spawn(tend_upstream_connections(Arc::clone(&forwarder)));
    while let Some((stream, client)) = connections.recv().await {
        let Ok(stream) = TcpStream::from_std(stream) else {
            continue;
        };
        // Responses go out whole at once; Nagle would only hold back the tail.
        let _ = stream.set_nodelay(true);
        let forwarder = Arc::clone(&forwarder);
        let service = service_fn(move |request| {
            let forwarder = Arc::clone(&forwarder);
            async move { Ok::<_, Infallible>(forwarder.handle(request, client).await) }
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A client that hangs up mid-request is its own problem, not the proxy's.
            let _ = connection.await;
        });
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain_timeout) => {}
    }
}

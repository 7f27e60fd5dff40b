//! Counts the requests each upstream is still answering, so whoever swapped the route can
//! wait for the old upstream to drain before stopping it. A request counts until its
//! response body has been sent (or the client went away), not just until the headers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::proxy::forward::BodyError;
use crate::proxy::upstream_body::UpstreamBody;

/// The counts of every serving thread. Each thread counts its own requests (memory no other
/// thread writes, so a request's count does not bounce between cores); a snapshot adds
/// them up.
#[derive(Debug, Default)]
pub struct InFlight {
    threads: Mutex<Vec<Arc<ThreadInFlight>>>,
}

impl InFlight {
    /// A new set of counts for one serving thread, included in every snapshot.
    pub fn for_thread(&self) -> Arc<ThreadInFlight> {
        let counts = Arc::new(ThreadInFlight::default());
        lock(&self.threads).push(Arc::clone(&counts));
        counts
    }

    /// Upstreams with at least one request in flight, on any thread.
    pub fn snapshot(&self) -> BTreeMap<SocketAddr, usize> {
        let mut total = BTreeMap::new();
        for thread in lock(&self.threads).iter() {
            for (upstream, count) in lock(&thread.counts).iter() {
                *total.entry(*upstream).or_default() += count;
            }
        }
        total
    }
}

/// One serving thread's requests in flight, by upstream.
#[derive(Debug, Default)]
pub struct ThreadInFlight {
    counts: Mutex<BTreeMap<SocketAddr, usize>>,
}

impl ThreadInFlight {
    /// Counts one more request to `upstream` until the guard is dropped.
    pub fn enter(self: &Arc<Self>, upstream: SocketAddr) -> InFlightGuard {
        *lock(&self.counts).entry(upstream).or_default() += 1;
        InFlightGuard {
            counts: Arc::clone(self),
            upstream,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
pub struct InFlightGuard {
    counts: Arc<ThreadInFlight>,
    upstream: SocketAddr,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts.counts);
        if let Some(count) = counts.get_mut(&self.upstream) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.upstream);
            }
        }
    }
}

/// An upstream's response body that keeps its request counted while it streams.
#[derive(Debug)]
pub struct CountedBody {
    inner: UpstreamBody,
    _guard: InFlightGuard,
}

impl CountedBody {
    pub fn new(inner: UpstreamBody, guard: InFlightGuard) -> Self {
        Self {
            inner,
            _guard: guard,
        }
    }
}

impl Body for CountedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        Pin::new(&mut self.get_mut().inner)
            .poll_frame(context)
            .map_err(BodyError::from)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_per_upstream_and_thread_and_vanish_at_zero() {
        let in_flight = InFlight::default();
        let (one, two) = (in_flight.for_thread(), in_flight.for_thread());
        let blue: SocketAddr = "127.0.0.1:4001".parse().unwrap();
        let green: SocketAddr = "127.0.0.1:4002".parse().unwrap();
        let first = one.enter(blue);
        let second = two.enter(blue);
        let third = one.enter(green);
        assert_eq!(in_flight.snapshot().get(&blue), Some(&2));
        assert_eq!(in_flight.snapshot().get(&green), Some(&1));
        drop(first);
        drop(third);
        assert_eq!(in_flight.snapshot().get(&blue), Some(&1));
        assert_eq!(in_flight.snapshot().get(&green), None);
        drop(second);
        assert!(in_flight.snapshot().is_empty());
    }
}

//! Counts the requests each upstream is still answering, so whoever swapped the route can
//! wait for the old upstream to drain before stopping it. A request counts until its
//! response body has been sent (or the client went away), not just until the headers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::proxy::forward::BodyError;

#[derive(Debug, Default)]
pub struct InFlight {
    counts: Mutex<BTreeMap<SocketAddr, usize>>,
}

impl InFlight {
    /// Counts one more request to `upstream` until the guard is dropped.
    pub fn enter(self: &Arc<Self>, upstream: SocketAddr) -> InFlightGuard {
        *self.lock().entry(upstream).or_default() += 1;
        InFlightGuard {
            in_flight: Arc::clone(self),
            upstream,
        }
    }

    /// Upstreams with at least one request in flight.
    pub fn snapshot(&self) -> BTreeMap<SocketAddr, usize> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<SocketAddr, usize>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug)]
pub struct InFlightGuard {
    in_flight: Arc<InFlight>,
    upstream: SocketAddr,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut counts = self.in_flight.lock();
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
    inner: Incoming,
    _guard: InFlightGuard,
}

impl CountedBody {
    pub fn new(inner: Incoming, guard: InFlightGuard) -> Self {
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
    fn guards_count_per_upstream_and_vanish_at_zero() {
        let in_flight = Arc::new(InFlight::default());
        let blue: SocketAddr = "127.0.0.1:4001".parse().unwrap();
        let green: SocketAddr = "127.0.0.1:4002".parse().unwrap();
        let first = in_flight.enter(blue);
        let second = in_flight.enter(blue);
        let third = in_flight.enter(green);
        assert_eq!(in_flight.snapshot().get(&blue), Some(&2));
        drop(first);
        drop(third);
        assert_eq!(in_flight.snapshot().get(&blue), Some(&1));
        assert_eq!(in_flight.snapshot().get(&green), None);
        drop(second);
        assert!(in_flight.snapshot().is_empty());
    }
}

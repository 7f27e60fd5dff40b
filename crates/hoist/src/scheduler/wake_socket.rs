//! The scheduler's alarm clock: a loopback UDP socket it sleeps on until its next due time.
//! Any datagram (the CLI's or the API's after a queue change, or our own at shutdown) ends the
//! sleep early; none carries data the scheduler trusts — it only makes it read the store.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::error::{Error, Result};

#[derive(Debug)]
pub struct WakeSocket {
    socket: UdpSocket,
    address: SocketAddr,
}

impl WakeSocket {
    pub fn bind() -> Result<Self> {
        let socket = UdpSocket::bind(("127.0.0.1", 0)).map_err(|error| {
            Error::internal("cannot bind the scheduler's wake socket").cause(error)
        })?;
        let address = socket.local_addr().map_err(|error| {
            Error::internal("cannot read the wake socket's address").cause(error)
        })?;
        // Waiting is `poll`'s job; reads only ever drain what is there.
        socket.set_nonblocking(true).map_err(|error| {
            Error::internal("cannot make the wake socket non-blocking").cause(error)
        })?;
        Ok(Self { socket, address })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Sleeps up to `timeout` (at least 1 ms); true if woken by a datagram. Drains whatever
    /// else queued up, so a burst of wakes costs one store read.
    ///
    /// `poll` times out on a high-resolution timer, at most a second at a time: its slack
    /// grows with the timeout (0.1%, 0.5% for a lowered priority). A socket receive timeout
    /// (`SO_RCVTIMEO`) sits on the kernel's coarse timer wheel instead, which rounds a sleep
    /// of a few seconds up by as much as a quarter of a second: the scheduler woke after
    /// the first command of a batch was due, not the 100 ms before it that it asked for.
    pub fn sleep(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout.max(Duration::from_millis(1));
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            // Rounded up to whole milliseconds: never early.
            let millis = left.min(Duration::from_secs(1)).as_micros().div_ceil(1000);
            let timeout = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);
            let mut socket = [PollFd::new(self.socket.as_fd(), PollFlags::POLLIN)];
            if poll(&mut socket, timeout).is_ok_and(|ready| ready > 0) && self.drain() {
                return true;
            }
        }
    }

    /// Reads every queued datagram; true if there was one.
    fn drain(&self) -> bool {
        let mut buffer = [0_u8; 64];
        let mut any = false;
        while self.socket.recv_from(&mut buffer).is_ok() {
            any = true;
        }
        any
    }

    /// Wakes this socket's sleeper (shutdown, a command finishing).
    pub fn ring(&self) {
        if let Ok(sender) = UdpSocket::bind(("127.0.0.1", 0)) {
            let _ = sender.send_to(b"wake", self.address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleep_never_ends_early_and_a_ring_ends_it_at_once() {
        let socket = WakeSocket::bind().unwrap();
        // Longer than one `poll` (a second): the rest is slept too.
        for timeout in [Duration::from_millis(30), Duration::from_millis(1200)] {
            let started = Instant::now();
            assert!(!socket.sleep(timeout), "nothing rang");
            assert!(
                started.elapsed() >= timeout,
                "woke early: {:?}",
                started.elapsed()
            );
        }
        socket.ring();
        socket.ring();
        let started = Instant::now();
        assert!(socket.sleep(Duration::from_secs(60)));
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the ring was missed"
        );
        // Both rings were one wake-up: nothing is left to end the next sleep.
        assert!(!socket.sleep(Duration::from_millis(1)));
    }
}

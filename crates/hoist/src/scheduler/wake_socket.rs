//! The scheduler's alarm clock: a loopback UDP socket it sleeps on until its next due time.
//! Any datagram (the CLI's or the API's after a queue change, or our own at shutdown) ends the
//! sleep early; none carries data the scheduler trusts — it only makes it read the store.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

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
        Ok(Self { socket, address })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Sleeps up to `timeout` (at least 1 ms); true if woken by a datagram. Drains whatever
    /// else queued up, so a burst of wakes costs one store read.
    pub fn sleep(&self, timeout: Duration) -> bool {
        let mut buffer = [0_u8; 64];
        let timeout = timeout.max(Duration::from_millis(1));
        if self.socket.set_read_timeout(Some(timeout)).is_err() {
            std::thread::sleep(timeout);
            return false;
        }
        let woken = self.socket.recv_from(&mut buffer).is_ok();
        if woken && self.socket.set_nonblocking(true).is_ok() {
            while self.socket.recv_from(&mut buffer).is_ok() {}
            let _ = self.socket.set_nonblocking(false);
        }
        woken
    }

    /// Wakes this socket's sleeper (shutdown, a command finishing).
    pub fn ring(&self) {
        if let Ok(sender) = UdpSocket::bind(("127.0.0.1", 0)) {
            let _ = sender.send_to(b"wake", self.address);
        }
    }
}

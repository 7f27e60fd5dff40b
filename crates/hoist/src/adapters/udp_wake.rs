//! Wakes controllers with one UDP datagram to the loopback address each announced. A
//! datagram carries no data a controller trusts: it only makes it read the store again.

use std::net::{SocketAddr, UdpSocket};

use crate::ports::command_queue::ControllerRecord;
use crate::ports::controller_wake::ControllerWake;

#[derive(Debug, Clone, Copy, Default)]
pub struct UdpWake;

impl ControllerWake for UdpWake {
    fn wake(&self, controllers: &[ControllerRecord]) {
        let targets: Vec<SocketAddr> = controllers
            .iter()
            .filter_map(|controller| controller.wake.as_deref()?.parse().ok())
            .filter(|address: &SocketAddr| address.ip().is_loopback())
            .collect();
        if targets.is_empty() {
            return;
        }
        let Ok(socket) = UdpSocket::bind(("127.0.0.1", 0)) else {
            return;
        };
        for target in targets {
            let _ = socket.send_to(b"wake", target);
        }
    }
}

//! The listening TCP sockets on one port, asked of the kernel over `NETLINK_SOCK_DIAG`
//! (what `ss -ltn` does). Asking for LISTEN sockets only, the kernel walks its listening
//! hash alone, where reading `/proc/net/tcp` walks every bucket of the established hash
//! (262,144 on a machine with a few GB) and formats every connection, TIME-WAIT ones too:
//! ~7 ms of CPU per look on a host with 4,000 sockets, which a liveness probe paid every
//! interval for each instance.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::net::{
    AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, netlink, recv, send, socket_with,
    sockopt,
};

use super::Listener;

/// `SOCK_DIAG_BY_FAMILY`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HEADER: usize = 16;
/// `struct inet_diag_req_v2`: family, protocol, ext, pad, states, `inet_diag_sockid`.
const REQUEST_LEN: usize = 56;
/// `struct inet_diag_msg`.
const MESSAGE_LEN: usize = 72;
const IPPROTO_TCP: u8 = 6;
const TCP_LISTEN: u32 = 10;
/// The kernel never stalls a dump; this only bounds a broken one.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// The LISTEN sockets on `port` of one family (`AF_INET` or `AF_INET6`), in the reader's
/// network namespace. `Err` when the kernel cannot be asked (no sock_diag for the family);
/// the caller then reads `/proc/net/tcp*`.
pub(super) fn listening(port: u16, family: AddressFamily) -> io::Result<Vec<Listener>> {
    let socket = socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )?;
    sockopt::set_socket_timeout(&socket, sockopt::Timeout::Recv, Some(ANSWER_WITHIN))?;
    send(&socket, &request(port, family), SendFlags::empty())?;
    read_answers(&socket, port)
}

/// A dump request for the LISTEN TCP sockets of `family` bound to `port`.
fn request(port: u16, family: AddressFamily) -> [u8; NLMSG_HEADER + REQUEST_LEN] {
    let mut message = [0u8; NLMSG_HEADER + REQUEST_LEN];
    let length = u32::try_from(message.len()).unwrap_or(u32::MAX);
    message[0..4].copy_from_slice(&length.to_ne_bytes());
    message[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    message[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    // seq 0, pid 0 (the kernel).
    let body = &mut message[NLMSG_HEADER..];
    body[0] = u8::try_from(family.as_raw()).unwrap_or(0);
    body[1] = IPPROTO_TCP;
    body[4..8].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    // The kernel skips listeners on other ports (`idiag_sport`, network order).
    body[8..10].copy_from_slice(&port.to_be_bytes());
    message
}

fn read_answers(socket: &OwnedFd, port: u16) -> io::Result<Vec<Listener>> {
    let mut found = Vec::new();
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        let (_, length) = recv(socket, &mut buffer[..], RecvFlags::empty())?;
        let mut rest = buffer.get(..length).unwrap_or_default();
        if rest.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "sock_diag ended without NLMSG_DONE",
            ));
        }
        while rest.len() >= NLMSG_HEADER {
            let message_len = u32_at(rest, 0) as usize;
            let kind = u16::from_ne_bytes([rest[4], rest[5]]);
            if message_len < NLMSG_HEADER || message_len > rest.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a truncated sock_diag message",
                ));
            }
            let body = &rest[NLMSG_HEADER..message_len];
            match kind {
                NLMSG_DONE => return Ok(found),
                NLMSG_ERROR => {
                    // A negative errno; the family has no diag module, for instance.
                    let errno = i32::from_ne_bytes(
                        body.get(..4)
                            .and_then(|b| b.try_into().ok())
                            .unwrap_or([0; 4]),
                    );
                    return Err(io::Error::from_raw_os_error(-errno));
                }
                SOCK_DIAG_BY_FAMILY => {
                    if let Some(listener) = parse_message(body)
                        && listener.0 == port
                    {
                        found.push(listener.1);
                    }
                }
                _ => {}
            }
            // Messages are 4-byte aligned.
            let next = message_len.next_multiple_of(4).min(rest.len());
            rest = &rest[next..];
        }
    }
}

/// One `inet_diag_msg` → its local port and the listener.
fn parse_message(body: &[u8]) -> Option<(u16, Listener)> {
    if body.len() < MESSAGE_LEN {
        return None;
    }
    let family = u16::from(body[0]);
    let port = u16::from_be_bytes([body[4], body[5]]);
    // idiag_src at offset 8, in network order.
    let address = if family == AddressFamily::INET.as_raw() {
        let octets: [u8; 4] = body[8..12].try_into().ok()?;
        IpAddr::V4(Ipv4Addr::from(octets))
    } else if family == AddressFamily::INET6.as_raw() {
        let octets: [u8; 16] = body[8..24].try_into().ok()?;
        IpAddr::V6(Ipv6Addr::from(octets))
    } else {
        return None;
    };
    let uid = u32_at(body, 64);
    let inode = u64::from(u32_at(body, 68));
    Some((
        port,
        Listener {
            address,
            uid,
            inode,
        },
    ))
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    bytes
        .get(offset..offset + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_ne_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_listener_and_only_on_its_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let found = listening(port, AddressFamily::INET).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].address, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(found[0].uid, nix::unistd::geteuid().as_raw());
        // The same socket /proc/net/tcp names.
        let from_proc = std::fs::read_to_string("/proc/net/tcp").unwrap();
        assert!(
            from_proc
                .lines()
                .filter_map(super::super::parse_line)
                .any(|(p, l)| p == port && l.inode == found[0].inode),
            "inode {} not in /proc/net/tcp",
            found[0].inode
        );
        drop(listener);
        assert!(listening(port, AddressFamily::INET).unwrap().is_empty());
    }

    #[test]
    fn a_connected_socket_is_not_a_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _accepted = listener.accept().unwrap();
        let found = listening(port, AddressFamily::INET).unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
    }
}

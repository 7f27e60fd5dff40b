//! A local port forwarded to a port on the host's loopback through the transport's master
//! (`ssh -O forward`), cancelled when the guard goes.

use std::process::{Command, Stdio};

use super::{SshTransport, spawn_error};
use crate::adapters::transport::PortForward;
use crate::error::{Error, Result};

/// `ssh -O forward -L 127.0.0.1:LOCAL:127.0.0.1:PORT` on a local port found free just
/// before (ssh takes no port 0 for `-L`; a port taken in between is tried again with
/// another); the guard sends `-O cancel` for it.
pub(super) fn forward_port(transport: &SshTransport, remote_port: u16) -> Result<PortForward> {
    transport.ensure_shared()?;
    let socket = &transport.socket;
    let mut last_error = String::new();
    let mut forwarded = None;
    // The same host and port get the same local port every time when it is free: skopeo
    // remembers which blobs a registry holds by its address, so a port that moved would
    // make it send every layer again.
    let preferred = stable_local_port(&transport.destination, remote_port);
    for attempt in 0..4 {
        let asked = if attempt == 0 { preferred } else { 0 };
        let Ok(local_port) = std::net::TcpListener::bind(("127.0.0.1", asked))
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
        else {
            continue;
        };
        let spec = format!("127.0.0.1:{local_port}:127.0.0.1:{remote_port}");
        let output = transport
            .ssh_command()
            .args(
                transport
                    .command_line
                    .forward_args(socket, "forward", &spec)?,
            )
            .stdin(Stdio::null())
            .output()
            .map_err(|error| spawn_error(&transport.command_line.program, error))?;
        if output.status.success() {
            forwarded = Some(local_port);
            break;
        }
        last_error = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    }
    let Some(local_port) = forwarded else {
        return Err(Error::failed(format!(
            "cannot forward a port to `{}`",
            transport.destination
        ))
        .cause(last_error)
        .hint("the host's sshd must allow TCP forwarding (`AllowTcpForwarding yes`) for images to travel"));
    };
    let program = transport.command_line.program.clone();
    let cancel = transport.command_line.forward_args(
        socket,
        "cancel",
        &format!("127.0.0.1:{local_port}:127.0.0.1:{remote_port}"),
    )?;
    Ok(PortForward::new(local_port, move || {
        let _ = Command::new(program)
            .args(cancel)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }))
}

/// A local port in 20000–29999 derived from the host and the remote port.
fn stable_local_port(destination: &str, remote_port: u16) -> u16 {
    let hash = blake3::hash(format!("{destination}\n{remote_port}").as_bytes());
    let bytes = hash.as_bytes();
    20_000 + u16::from_le_bytes([bytes[0], bytes[1]]) % 10_000
}

//! Shared ssh masters (`ssh_persist`) against real sshd hosts: a master outlives the command
//! and the next one rides it; a killed master is replaced without an error; `close_when_done`
//! closes it; the hosts behind a jump host share one connection to it.

use std::process::Command;
use std::time::{Duration, Instant};

use hoist::adapters::ssh_transport::SshTransport;
use hoist::adapters::transport::Transport;

use crate::ssh_transport::{processes_with, ssh_connection};
use crate::testbed::Testbed;

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Established TCP connections from this machine to `address`:22.
fn connections_to(address: &str) -> usize {
    let output = Command::new("ss")
        .args([
            "-Htn",
            "state",
            "established",
            "dst",
            &format!("{address}:22"),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .count()
}

/// TCP_NODELAY on each connection of the sshd processes that serve `address`:22, read from those
/// processes' own file descriptors (`pidfd_getfd`, by a short Python script).
fn jump_side_nodelay(address: &str) -> Vec<bool> {
    const SCRIPT: &str = r#"
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        if not open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"sshd:"):
            continue
        pidfd = os.pidfd_open(int(pid))
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        continue
    for fd in fds:
        try:
            if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                continue
        except OSError:
            continue
        copy = libc.syscall(438, pidfd, int(fd), 0)
        if copy < 0:
            continue
        s = socket.socket(fileno=copy)
        try:
            if s.family == socket.AF_INET and s.type == socket.SOCK_STREAM and s.getsockname() == (sys.argv[1], 22):
                s.getpeername()  # the listener has none
                print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        except OSError:
            pass
        finally:
            s.close()
    os.close(pidfd)
"#;
    let output = Command::new("python3")
        .args(["-c", SCRIPT, address])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.trim() != "0")
        .collect()
}

#[test]
fn a_shared_master_outlives_the_command_is_reused_and_a_killed_one_is_replaced() {
    let Some(testbed) = Testbed::up(1, false) else {
        return;
    };
    let mut target = testbed.target(&testbed.hosts[0]);
    target.ssh_persist = Duration::from_secs(30);
    let first = SshTransport::connect(&target).unwrap();
    assert_eq!(first.master_pid(), None, "no master of its own");
    let socket = first.socket().to_owned();
    let needle = socket.display().to_string();
    let connection = ssh_connection(&first);
    drop(first);
    let masters = processes_with(&needle);
    assert_eq!(masters.len(), 1, "the master stays up: {masters:?}");
    let socket_mode = std::fs::metadata(socket.parent().unwrap()).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&socket_mode.permissions()) & 0o777,
        0o700
    );

    let second = SshTransport::connect(&target).unwrap();
    assert_eq!(second.socket(), socket);
    assert_eq!(ssh_connection(&second), connection, "the same connection");
    drop(second);

    // Killed between two commands: the next one logs in again, and says nothing of it.
    Command::new("kill")
        .args(["-9", &masters[0].to_string()])
        .status()
        .unwrap();
    wait_until("the master is gone", || processes_with(&needle).is_empty());
    assert!(socket.exists(), "a stale socket is left behind");
    let third = SshTransport::connect(&target).unwrap();
    let fresh = ssh_connection(&third);
    assert_ne!(fresh, connection, "a new connection");
    assert_eq!(processes_with(&needle).len(), 1);

    // `destroy` asks for it to close for good.
    third.close_when_done();
    drop(third);
    wait_until("no master is left", || processes_with(&needle).is_empty());
    assert!(!socket.exists());
}

#[test]
fn a_changed_setting_replaces_the_shared_master() {
    let Some(testbed) = Testbed::up(1, false) else {
        return;
    };
    let mut target = testbed.target(&testbed.hosts[0]);
    target.ssh_persist = Duration::from_secs(30);
    let first = SshTransport::connect(&target).unwrap();
    let old_socket = first.socket().to_owned();
    drop(first);
    target.connect_timeout = Duration::from_secs(7);
    let second = SshTransport::connect(&target).unwrap();
    assert_ne!(second.socket(), old_socket);
    let old = old_socket.display().to_string();
    wait_until("the old master exits", || processes_with(&old).is_empty());
    assert!(!old_socket.exists());
    second.close_when_done();
}

/// Behind jump host h1: j1 (reachable only through it) and h1's own address seen from
/// inside it. This machine holds one TCP connection to h1 for both.
#[test]
fn hosts_behind_a_jump_host_share_one_connection_to_it() {
    let Some(testbed) = Testbed::up(1, true) else {
        return;
    };
    let jump = &testbed.hosts[0];
    let behind = [testbed.jump_host.clone().unwrap(), jump.clone()];
    for persist in [Duration::ZERO, Duration::from_secs(30)] {
        let transports: Vec<SshTransport> = behind
            .iter()
            .map(|host| {
                let mut target = testbed.target(host);
                target.jump = Some(testbed.destination(jump));
                target.ssh_persist = persist;
                SshTransport::connect(&target).unwrap()
            })
            .collect();
        for (transport, host) in transports.iter().zip(&behind) {
            let connection = ssh_connection(transport);
            assert_eq!(&connection[2], host, "{connection:?}");
        }
        assert_eq!(
            connections_to(jump),
            1,
            "one connection to the jump host carries both (persist {persist:?})"
        );
        // Several hosts' answers come back together on it: Nagle's algorithm must be off at
        // the jump host's end, or each waits for a delayed ACK.
        let nodelay = jump_side_nodelay(jump);
        assert!(
            !nodelay.is_empty() && nodelay.iter().all(|on| *on),
            "TCP_NODELAY at the jump host's sshd: {nodelay:?} (persist {persist:?})"
        );
        for transport in &transports {
            transport.close_when_done();
        }
        drop(transports);
        wait_until("no connection to the jump host is left", || {
            connections_to(jump) == 0
        });
    }
}

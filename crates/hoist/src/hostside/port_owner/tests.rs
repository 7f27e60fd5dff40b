//! Real listeners: in this process, in a marked process of its own group, in a worker whose
//! group leader does not listen, on IPv6.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::{Pid, getpgrp};

use super::*;

/// Binds `address` port 0 in Python, prints the port, then sleeps: the listener of a process
/// group of its own.
const LISTEN_PY: &str = "import socket, sys, time\n\
    family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n\
    s = socket.socket(family)\n\
    s.bind((sys.argv[1], 0))\n\
    s.listen()\n\
    print(s.getsockname()[1], flush=True)\n\
    time.sleep(60)\n";

/// A listening process in its own group; killed with its group on drop.
struct Listening {
    child: Child,
    port: u16,
}

impl Listening {
    /// `sh -c` runs Python as a child (`; true` keeps sh from exec-ing it), so with `worker`
    /// the group's leader is sh and the listener a member.
    fn start(address: &str, env: &[(&str, &str)], worker: bool) -> Self {
        Self::start_in(Path::new("."), address, env, worker)
    }

    fn start_in(dir: &Path, address: &str, env: &[(&str, &str)], worker: bool) -> Self {
        let script = format!("python3 -c \"$LISTEN_PY\" {address}");
        let script = if worker {
            script + "; true"
        } else {
            format!("exec {script}")
        };
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("LISTEN_PY", LISTEN_PY)
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("{line:?}"));
        Self { child, port }
    }

    fn group(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = killpg(
            Pid::from_raw(self.child.id().cast_signed()),
            Signal::SIGKILL,
        );
        let _ = self.child.wait();
    }
}

/// A deploy root whose `.hoist/root-id` is `id`.
fn root_with_id(id: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join(".hoist")).unwrap();
    fs::write(root.path().join(".hoist/root-id"), id).unwrap();
    root
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn my_group() -> u32 {
    getpgrp().as_raw().cast_unsigned()
}

#[test]
#[cfg(target_endian = "little")]
fn parses_listening_rows_of_both_tables() {
    let v4 = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  \
              1000        0 12345 1 0000000000000000 100 0 0 10 0";
    let (port, listener) = parse_line(v4).unwrap();
    assert_eq!(port, 8080);
    assert_eq!(
        listener,
        Listener {
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            uid: 1000,
            inode: 12345
        }
    );
    let established = v4.replace(" 0A ", " 01 ");
    assert_eq!(parse_line(&established), None);
    assert_eq!(
        parse_line("  sl  local_address rem_address   st tx_queue"),
        None
    );

    let v6 = "   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 \
              0A 00000000:00000000 00:00000000 00000000     0        0 777 1";
    let (_, listener) = parse_line(v6).unwrap();
    assert_eq!(listener.address, IpAddr::V6(Ipv6Addr::LOCALHOST));
    let mapped = v6.replace(
        "00000000000000000000000001000000:1F90",
        "0000000000000000FFFF00000100007F:1F90",
    );
    let (_, listener) = parse_line(&mapped).unwrap();
    assert_eq!(
        listener.address,
        IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped())
    );
}

#[test]
fn the_probe_reaches_any_address_and_ipv4_loopback_only() {
    let reaches = |address: &str| {
        Listener {
            address: address.parse().unwrap(),
            uid: 0,
            inode: 1,
        }
        .takes_probe()
    };
    for address in [
        "0.0.0.0",
        "127.0.0.1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:0.0.0.0",
    ] {
        assert!(reaches(address), "{address}");
    }
    for address in ["::1", "127.0.0.2", "10.0.0.1"] {
        assert!(!reaches(address), "{address}");
    }
    assert!(binds_any_or_loopback("127.0.0.2".parse().unwrap()));
    assert!(binds_any_or_loopback("::1".parse().unwrap()));
    assert!(!binds_any_or_loopback("10.213.0.1".parse().unwrap()));
}

#[test]
fn a_listener_of_this_process_is_found_and_named() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let found = listeners(port);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(found[0].uid, nix::unistd::geteuid().as_raw());

    let root = root_with_id("ours");
    let error = ensure_free(port, root.path()).unwrap_err();
    let me = std::process::id();
    assert!(
        error
            .message
            .starts_with(&format!("port {port} is already taken by pid {me} (`")),
        "{error:?}"
    );
    assert!(error.hints[0].contains("`port`"), "{error:?}");
    assert_eq!(answerer(port, my_group(), root.path()), Answerer::Instance);

    drop(listener);
    assert_eq!(listeners(port), Vec::new());
    ensure_free(port, root.path()).unwrap();
    assert_eq!(answerer(port, my_group(), root.path()), Answerer::Nobody);
    ensure_free(closed_port(), root.path()).unwrap();
}

#[test]
fn a_marked_instance_is_told_apart_by_its_root() {
    let listening = Listening::start("127.0.0.1", &[("HOIST_INSTANCE", "r00t1d:blue")], false);
    let port = listening.port;
    let same = root_with_id("r00t1d");
    let other = root_with_id("0th3r");
    let pid = listening.child.id();

    let error = ensure_free(port, other.path()).unwrap_err();
    assert!(
        error
            .message
            .starts_with(&format!("port {port} is already taken by pid {pid} (`")),
        "{error:?}"
    );
    // The command line, on one line.
    assert!(
        error
            .message
            .contains("python3 -c import socket, sys, time family = "),
        "{error:?}"
    );
    assert!(
        error
            .message
            .ends_with("), the blue instance of another deploy root"),
        "{error:?}"
    );
    let error = ensure_free(port, same.path()).unwrap_err();
    assert!(
        error
            .message
            .ends_with("), the blue instance of this deploy root"),
        "{error:?}"
    );

    // Its own group answers; this test's group does not.
    assert_eq!(
        answerer(port, listening.group(), other.path()),
        Answerer::Instance
    );
    match answerer(port, my_group(), other.path()) {
        Answerer::Other(PortOwner::Process {
            pid: holder,
            process_group,
            instance: Some(mark),
            ..
        }) => {
            assert_eq!((holder, process_group), (pid, pid));
            assert_eq!(
                mark,
                InstanceMark {
                    slot: Slot::Blue,
                    this_root: false
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_worker_holding_the_socket_counts_for_its_group() {
    let listening = Listening::start("127.0.0.1", &[], true);
    let port = listening.port;
    let root = root_with_id("any");
    assert_eq!(
        answerer(port, listening.group(), root.path()),
        Answerer::Instance
    );
    // The holder is the worker, not the leader, and no instance mark is claimed.
    let error = ensure_free(port, root.path()).unwrap_err();
    let group = listening.group();
    assert!(
        error
            .message
            .ends_with(&format!(", process group {group})")),
        "{error:?}"
    );
    assert!(
        !error.message.contains(&format!("pid {group} ")),
        "{error:?}"
    );
}

#[test]
fn ipv6_loopback_takes_the_port_but_cannot_answer_the_probe() {
    let listening = Listening::start("::1", &[], false);
    let port = listening.port;
    let root = root_with_id("any");
    let found = listeners(port);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].address, IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert!(ensure_free(port, root.path()).is_err());
    // 127.0.0.1 does not reach it: whoever answers there, it is not this listener.
    assert_eq!(answerer(port, my_group(), root.path()), Answerer::Nobody);

    let dual = Listening::start("::", &[], false);
    assert_eq!(
        answerer(dual.port, dual.group(), root.path()),
        Answerer::Instance
    );
    assert!(matches!(
        answerer(dual.port, my_group(), root.path()),
        Answerer::Other(PortOwner::Process { .. })
    ));
}

#[test]
fn command_lines_are_quoted_on_one_short_line() {
    assert_eq!(one_line("sh  -c\n'x\ty'"), "sh -c 'x y'");
    let long = "a".repeat(MAX_COMMAND + 5);
    assert_eq!(one_line(&long), format!("{}…", "a".repeat(MAX_COMMAND)));
}

#[test]
fn an_instance_whose_root_was_deleted_by_hand_is_named_with_the_command_that_stops_it() {
    let gone = tempfile::tempdir().unwrap();
    let release_dir = gone.path().join("releases").join("r1");
    fs::create_dir_all(&release_dir).unwrap();
    let listening = Listening::start_in(
        &release_dir,
        "127.0.0.1",
        &[("HOIST_INSTANCE", "g0n3:single")],
        false,
    );
    let (port, pid) = (listening.port, listening.child.id());
    let root = root_with_id("n3w");
    let before = ensure_free(port, root.path()).unwrap_err();
    assert!(!before.message.contains("deleted"), "{before:?}");
    assert!(before.hints[0].contains("`port`"), "{before:?}");

    let path = release_dir.display().to_string();
    drop(gone);
    let error = ensure_free(port, root.path()).unwrap_err();
    assert!(
        error.message.ends_with(&format!(
            "an instance of another deploy root, running in `{path}`, which was deleted"
        )),
        "{error:?}"
    );
    assert!(
        error.hints[0].contains(&format!("`kill -TERM -- -{pid}`")),
        "{error:?}"
    );
}

#[test]
fn owners_read_as_sentences() {
    let process = PortOwner::Process {
        pid: 4242,
        process_group: 4242,
        command: "python3 app.py".to_owned(),
        instance: Some(InstanceMark {
            slot: Slot::Single,
            this_root: false,
        }),
        deleted_cwd: None,
    };
    assert_eq!(
        process.to_string(),
        "pid 4242 (`python3 app.py`), an instance of another deploy root"
    );
    assert_eq!(
        PortOwner::Hidden { uid: 1001 }.to_string(),
        "a process of uid 1001 that hoist may not inspect"
    );
    assert_eq!(
        PortOwner::Unknown { inode: 9 }.to_string(),
        "a process hoist cannot see (socket inode 9)"
    );
}

//! `SshTransport` against real sshd hosts (the testbed): commands, quoting, streaming, rsync,
//! the jump host, the one ControlMaster and its cleanup, and the errors for an unknown host
//! key, a refused login and an unreachable host.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hoist::adapters::ssh_transport::SshTransport;
use hoist::adapters::transport::{Transport, TransportOutput};

use crate::testbed::Testbed;

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|word| (*word).to_owned()).collect()
}

fn run(transport: &SshTransport, words: &[&str]) -> TransportOutput {
    transport
        .run(&argv(words), &mut std::io::empty())
        .unwrap_or_else(|error| panic!("run {words:?}: {error}"))
}

fn stdout(transport: &SshTransport, words: &[&str]) -> String {
    let output = run(transport, words);
    assert_eq!(output.status, 0, "{words:?}: {}", output.stderr);
    String::from_utf8(output.stdout).unwrap()
}

/// `client-address client-port server-address server-port` of the ssh connection a command
/// ran on: the same client port means the same TCP connection.
pub(crate) fn ssh_connection(transport: &SshTransport) -> Vec<String> {
    stdout(transport, &["sh", "-c", "echo $SSH_CONNECTION"])
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Live processes whose command line contains `needle` (zombies have none).
pub(crate) fn processes_with(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(needle))
        })
        .collect()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn runs_a_command_and_reports_its_status_and_stderr() {
    let Some(testbed) = Testbed::up(1, false) else {
        return;
    };
    let transport = SshTransport::connect(&testbed.target(&testbed.hosts[0])).unwrap();
    let local = Command::new("uname").arg("-m").output().unwrap();
    assert_eq!(
        stdout(&transport, &["uname", "-m"]),
        String::from_utf8(local.stdout).unwrap()
    );
    let failed = run(&transport, &["sh", "-c", "echo broken >&2; exit 7"]);
    assert_eq!(failed.status, 7);
    assert_eq!(failed.stderr, "broken\n");
    assert!(failed.stdout.is_empty());
    // A clean home: the host's /root is the testbed's, not this machine's.
    assert_eq!(stdout(&transport, &["ls", "-A", "/root"]), "");
}

#[test]
fn every_argument_arrives_verbatim() {
    let Some(testbed) = Testbed::up(1, false) else {
        return;
    };
    let transport = SshTransport::connect(&testbed.target(&testbed.hosts[0])).unwrap();
    for word in [
        "two words",
        "it's \"quoted\"",
        "$(echo injected); echo injected; `echo injected`",
        "back\\slash * ? [a] ~ # & | > <",
        "new\nline\ttab",
        "-n",
        "ünïcødé ✓",
        "",
    ] {
        assert_eq!(stdout(&transport, &["printf", "%s", word]), word);
    }
    // Several arguments stay several, empty ones included.
    assert_eq!(
        stdout(&transport, &["sh", "-c", "echo $#", "sh", "a b", "", "c"]),
        "3\n"
    );
}

#[test]
fn stdin_is_streamed_to_the_command() {
    let Some(testbed) = Testbed::up(1, false) else {
        return;
    };
    let transport = SshTransport::connect(&testbed.target(&testbed.hosts[0])).unwrap();
    let size: u64 = 10 * 1024 * 1024;
    let mut input = std::io::repeat(b'h').take(size);
    let output = transport.run(&argv(&["wc", "-c"]), &mut input).unwrap();
    assert_eq!(output.status, 0, "{}", output.stderr);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        size.to_string()
    );
    // A command that reads nothing still ends cleanly with its own status.
    let mut input = std::io::repeat(b'h').take(size);
    let output = transport
        .run(&argv(&["sh", "-c", "exit 4"]), &mut input)
        .unwrap();
    assert_eq!(output.status, 4);
}

fn write_file(root: &Path, relative: &str, text: &str, mode: u32) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn rsync_copies_files_with_their_modes_and_replaces_rather_than_writes_through() {
    let Some(testbed) = Testbed::up(2, false) else {
        return;
    };
    let transport = SshTransport::connect(&testbed.target(&testbed.hosts[0])).unwrap();
    assert!(transport.has_rsync());

    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("a source 'dir'");
    write_file(&source, "app.txt", "v2\n", 0o644);
    write_file(&source, "bin/run.sh", "#!/bin/sh\necho run\n", 0o755);
    write_file(&source, "with space.txt", "spaced\n", 0o600);
    write_file(&source, "not-listed.txt", "left behind\n", 0o644);

    // The release's app.txt is hard-linked from an older release, as hoist does.
    let setup = "mkdir -p /srv/releases/1 '/srv/releases/2 new' && echo v1 > /srv/releases/1/app.txt && ln /srv/releases/1/app.txt '/srv/releases/2 new/app.txt'";
    stdout(&transport, &["sh", "-c", setup]);
    let paths = argv(&["app.txt", "bin/run.sh", "with space.txt"]);
    // rsync's `-e` splitter must keep a config path with a space and a quote whole.
    let config = local.path().join("ssh 'config'");
    std::fs::copy(&testbed.ssh_config, &config).unwrap();
    let mut target = testbed.target(&testbed.hosts[0]);
    target.ssh_config = Some(config);
    let transport = SshTransport::connect(&target).unwrap();
    transport
        .rsync_files(&source, &paths, Path::new("/srv/releases/2 new"))
        .unwrap();

    let listing = stdout(
        &transport,
        &[
            "sh",
            "-c",
            "cd '/srv/releases/2 new' && find . -type f | sort | xargs -d '\\n' stat -c '%a %n'",
        ],
    );
    assert_eq!(
        listing,
        "644 ./app.txt\n755 ./bin/run.sh\n600 ./with space.txt\n"
    );
    assert_eq!(
        stdout(&transport, &["cat", "/srv/releases/2 new/app.txt"]),
        "v2\n"
    );
    assert_eq!(
        stdout(&transport, &["/srv/releases/2 new/bin/run.sh"]),
        "run\n"
    );
    // The old release kept its own content: the new file was renamed into place.
    assert_eq!(
        stdout(&transport, &["cat", "/srv/releases/1/app.txt"]),
        "v1\n"
    );
    // Every host has its own /srv.
    let other = SshTransport::connect(&testbed.target(&testbed.hosts[1])).unwrap();
    assert_eq!(stdout(&other, &["ls", "-A", "/srv"]), "");
}

#[test]
fn reaches_a_host_only_through_its_jump_host() {
    let Some(testbed) = Testbed::up(1, true) else {
        return;
    };
    let inner = testbed.jump_host.clone().unwrap();
    let h1 = &testbed.hosts[0];

    // Without the jump, j1 cannot be reached from here.
    let direct = SshTransport::connect(&testbed.target(&inner)).unwrap_err();
    assert!(direct.message.contains(&inner), "{direct}");

    // The jump comes from the target, not from ssh_config (which knows only `Host j1`).
    let mut target = testbed.target(&inner);
    target.jump = Some(testbed.destination(h1));
    let transport = SshTransport::connect(&target).unwrap();
    let connection = ssh_connection(&transport);
    assert_eq!(connection[2], inner, "{connection:?}");
    let root_side = h1.rsplit_once('.').unwrap().0.to_owned() + ".1";
    assert_ne!(connection[0], root_side, "{connection:?}");

    let local = tempfile::tempdir().unwrap();
    write_file(local.path(), "hello.txt", "through the jump\n", 0o640);
    stdout(&transport, &["mkdir", "-p", "/srv/app"]);
    transport
        .rsync_files(local.path(), &argv(&["hello.txt"]), Path::new("/srv/app"))
        .unwrap();
    assert_eq!(
        stdout(&transport, &["stat", "-c", "%a", "/srv/app/hello.txt"]),
        "640\n"
    );
}

#[test]
fn one_master_carries_every_command_and_nothing_outlives_the_transport() {
    let Some(testbed) = Testbed::up(1, true) else {
        return;
    };
    let marker = testbed.ssh_config.display().to_string();
    let mut target = testbed.target(testbed.jump_host.as_ref().unwrap());
    target.jump = Some(testbed.destination(&testbed.hosts[0]));
    let transport = SshTransport::connect(&target).unwrap();

    let first = ssh_connection(&transport);
    let second = ssh_connection(&transport);
    assert_eq!(first, second, "both commands used one connection");
    let master = transport.master_pid().unwrap();
    // The master, the jump host's master and the hop riding it; the commands' own ssh
    // processes are gone.
    let running = processes_with(&marker);
    assert!(running.contains(&master), "{running:?}");
    assert_eq!(running.len(), 3, "master, jump master and hop: {running:?}");

    let control_dir = transport.control_dir().unwrap().to_owned();
    assert!(control_dir.join("master").exists());
    drop(transport);
    assert!(
        !Path::new(&format!("/proc/{master}")).exists(),
        "the master was reaped"
    );
    assert!(!control_dir.exists());
    wait_until("no ssh process of the transport is left", || {
        processes_with(&marker).is_empty()
    });
}

#[test]
fn a_serving_master_carries_the_session_and_survives_a_missing_command() {
    let Some(testbed) = Testbed::up(1, false) else {
        return;
    };
    let marker = testbed.ssh_config.display().to_string();
    let target = testbed.target(&testbed.hosts[0]);
    let echo = argv(&[
        "sh",
        "-c",
        "while read -r line; do printf '%s\\n' \"$line\"; done",
    ]);
    let transport = SshTransport::connect_serving(&target, echo.clone()).unwrap();
    let mut session = transport.open_session(&echo).unwrap();
    assert_eq!(
        session.exchange(b"it's one").unwrap().unwrap(),
        b"it's one\n"
    );
    assert_eq!(
        processes_with(&marker),
        vec![transport.master_pid().unwrap()],
        "the master alone carries the session"
    );
    drop(session);
    drop(transport);
    wait_until("no ssh process of the transport is left", || {
        processes_with(&marker).is_empty()
    });

    // A command the host lacks ends with 127, and the master stays for what follows.
    let missing = argv(&["/nonexistent/hoist", "host", "serve"]);
    let transport = SshTransport::connect_serving(&target, missing.clone()).unwrap();
    let mut session = transport.open_session(&missing).unwrap();
    assert_eq!(session.exchange(b"{}").unwrap(), None);
    assert_eq!(session.exit_status(), Some(127));
    assert_eq!(stdout(&transport, &["echo", "still here"]), "still here\n");
    // A second session is opened on that master's socket: no ssh process of its own.
    let mut again = transport.open_session(&echo).unwrap();
    assert_eq!(again.exchange(b"two").unwrap().unwrap(), b"two\n");
    assert_eq!(
        processes_with(&marker),
        vec![transport.master_pid().unwrap()],
        "no ssh client for the second session"
    );
    assert_eq!(again.exchange(b"three").unwrap().unwrap(), b"three\n");
    // Its end and exit status come back through the master too, stderr going nowhere.
    let ends = argv(&[
        "sh",
        "-c",
        "read -r line; echo noise >&2; echo \"got $line\"; exit 3",
    ]);
    let mut ending = transport.open_session(&ends).unwrap();
    assert_eq!(ending.exchange(b"x").unwrap().unwrap(), b"got x\n");
    assert_eq!(ending.exchange(b"y").unwrap(), None);
    assert_eq!(ending.exit_status(), Some(3));
    let mut missing_again = transport.open_session(&missing).unwrap();
    assert_eq!(missing_again.exchange(b"{}").unwrap(), None);
    assert_eq!(missing_again.exit_status(), Some(127));
    drop(again);
    drop(session);
    drop(transport);
    wait_until("no ssh process of the transport is left", || {
        processes_with(&marker).is_empty()
    });
}

#[test]
fn an_unknown_host_key_is_refused_with_a_way_to_check_it() {
    let Some(testbed) = Testbed::up(1, false) else {
        return;
    };
    let host = &testbed.hosts[0];
    let local = tempfile::tempdir().unwrap();
    let known_hosts = local.path().join("known_hosts");
    std::fs::write(&known_hosts, "").unwrap();
    let config = local.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host *\n  IdentityFile {}\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n",
            testbed.identity.display(),
            known_hosts.display()
        ),
    )
    .unwrap();
    let mut target = testbed.target(host);
    target.ssh_config = Some(config);

    let error = SshTransport::connect(&target).unwrap_err();
    assert_eq!(error.message, format!("host key of `{host}` is not known"));
    let hint = error.hints.join("\n");
    assert!(
        hint.contains(&format!("ssh-keyscan -t ed25519 {host}")),
        "{hint}"
    );
    assert_eq!(
        std::fs::read_to_string(&known_hosts).unwrap(),
        "",
        "nothing accepted"
    );
}

#[test]
fn a_refused_login_points_at_the_identity() {
    let Some(testbed) = Testbed::up(1, false) else {
        return;
    };
    let host = &testbed.hosts[0];
    let local = tempfile::tempdir().unwrap();
    let stranger = local.path().join("stranger");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    assert!(keygen.success());
    let config = local.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host *\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n",
            testbed.known_hosts.display()
        ),
    )
    .unwrap();
    let mut target = testbed.target(host);
    target.ssh_config = Some(config);
    target.identity = Some(stranger);

    let error = SshTransport::connect(&target).unwrap_err();
    assert_eq!(
        error.message,
        format!("ssh refused the login to `root@{host}`")
    );
    assert!(error.hints.join("\n").contains("`identity`"), "{error:?}");
}

#[test]
fn an_unreachable_host_fails_within_the_connect_timeout() {
    let Some(testbed) = Testbed::up(1, false) else {
        return;
    };
    let mut target = testbed.target(&testbed.unreachable);
    target.connect_timeout = Duration::from_secs(2);
    let started = Instant::now();
    let error = SshTransport::connect(&target).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        error.message,
        format!("cannot reach `root@{}`", testbed.unreachable)
    );
    assert!(
        error.hints.join("\n").contains("2s (`connect_timeout`)"),
        "{error:?}"
    );
}

/// A host that accepts the connection and then says nothing: ssh's timeout covers the
/// banner, so the wait ends near `connect_timeout`. Loopback only; needs no root.
#[test]
fn a_silent_host_times_out_after_the_connect_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let local = tempfile::tempdir().unwrap();
    let config = local.path().join("ssh_config");
    std::fs::write(&config, "").unwrap();
    let target = hoist::ports::HostTarget {
        address: format!("root@127.0.0.1:{port}").parse().unwrap(),
        root: "/srv".into(),
        jump: None,
        ssh_config: Some(config),
        identity: None,
        host_binary: None,
        connect_timeout: Duration::from_secs(1),
        ssh_persist: Duration::ZERO,
    };
    let started = Instant::now();
    let error = SshTransport::connect(&target).unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    assert_eq!(
        error.message,
        format!("cannot reach `root@127.0.0.1:{port}`")
    );
    assert!(error.causes.join("\n").contains("timed out"), "{error:?}");
}

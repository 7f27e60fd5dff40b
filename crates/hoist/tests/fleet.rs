//! Real sshd hosts in network namespaces (`scripts/testbed.sh`): the full lifecycle on four
//! hosts, a host behind a jump host, a host whose sshd dies mid-rollout, an unknown host key
//! and an unreachable host. Needs root; CI runs as root.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::Test;
use crate::testbed::Testbed;

/// A spec for `hosts` under `/srv/app`, reached with the testbed's ssh_config; `{extra}` is
/// added to `[env.fleet]`.
fn fleet_spec(t: &Test, tb: &Testbed, hosts: &[String], extra: &str) -> String {
    let list: Vec<String> = hosts.iter().map(|h| format!("\"root@{h}\"")).collect();
    let base = std::fs::read_to_string(t.project.join("Hoist.toml")).unwrap();
    let service_and_more = &base[base.find("[hooks]").unwrap()..base.find("[env.dev]").unwrap()];
    format!(
        "[app]\nname = \"hello\"\n\n[build]\nupload = [\"app.py\", \"message.txt\"]\n\n{service_and_more}\
         [env.fleet]\nhosts = [{}]\nroot = \"/srv/app\"\nssh_config = \"{}\"\nconnect_timeout = \"3s\"\n{extra}\n",
        list.join(", "),
        tb.ssh_config.display(),
    )
}

/// `GET path` on the service of the host at `address` (it listens on that host's loopback).
fn remote_get(tb: &Testbed, address: &str, port: u16, path: &str) -> String {
    let script = format!(
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=5).read().decode(), end='')"
    );
    let output = Command::new("ssh")
        .args([
            "-F",
            &tb.ssh_config.display().to_string(),
            &format!("root@{address}"),
            "python3",
            "-c",
        ])
        .arg(format!("\"{script}\""))
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn host_root(tb: &Testbed, name: &str) -> std::path::PathBuf {
    tb.dir().join(name).join("srv").join("app")
}

#[test]
fn full_lifecycle_on_four_hosts() {
    let Some(tb) = Testbed::up(4, false) else {
        return;
    };
    let t = Test::new();
    t.write(
        "Hoist.toml",
        &fleet_spec(&t, &tb, &tb.hosts, "parallel = 4\ncanary = 1"),
    );
    t.hoist(&["deploy", "fleet"])
        .success()
        .stderr_contains("[5/5] run");
    for host in &tb.hosts {
        assert!(remote_get(&tb, host, t.port, "/").contains("v1"), "{host}");
    }
    // Every host got the hoist binary and the same release.
    let first = std::fs::read_link(host_root(&tb, "h1").join("live")).unwrap();
    for name in ["h1", "h2", "h3", "h4"] {
        assert!(
            host_root(&tb, name).join(".hoist/bin/hoist").is_file(),
            "{name}"
        );
        assert_eq!(
            std::fs::read_link(host_root(&tb, name).join("live")).unwrap(),
            first,
            "{name}"
        );
    }

    t.write("message.txt", "v2\n");
    let outcome = t.hoist(&["deploy", "fleet", "--json"]).success().json();
    assert_eq!(outcome["steps"], serde_json::json!(["release", "run"]));
    for host in &tb.hosts {
        assert!(remote_get(&tb, host, t.port, "/").contains("v2"), "{host}");
    }
    let status = t.hoist(&["status", "fleet", "--json"]).success().json();
    let hosts = status["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 4);
    assert!(
        hosts.iter().all(|h| h["instance"]["alive"] == true),
        "{status}"
    );
    t.hoist(&["check", "fleet"]).success();

    t.hoist(&["rollback", "fleet"]).success();
    for host in &tb.hosts {
        assert!(remote_get(&tb, host, t.port, "/").contains("v1"), "{host}");
    }
    t.hoist(&["check", "fleet"]).success();

    t.hoist(&["destroy", "fleet", "--yes"]).success();
    for name in ["h1", "h2", "h3", "h4"] {
        assert!(!host_root(&tb, name).exists(), "{name} still has its root");
    }
}

#[test]
fn deploy_through_the_jump_host() {
    let Some(tb) = Testbed::up(1, true) else {
        return;
    };
    let jump_target = tb.jump_host.clone().unwrap();
    let t = Test::new();
    let spec = fleet_spec(
        &t,
        &tb,
        &[jump_target],
        &format!("jump = \"root@{}\"", tb.hosts[0]),
    );
    t.write("Hoist.toml", &spec);
    t.hoist(&["deploy", "fleet"]).success();
    assert!(host_root(&tb, "j1").join("live").join("app.py").is_file());
    assert!(
        !host_root(&tb, "h1").exists(),
        "nothing was deployed to the jump host itself"
    );
    t.hoist(&["check", "fleet"]).success();
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "fleet"]).success();
    t.hoist(&["rollback", "fleet"]).success();
    t.hoist(&["destroy", "fleet", "--yes"]).success();
}

#[test]
fn a_host_whose_sshd_dies_mid_rollout_is_named_and_deploy_finishes_later() {
    let Some(tb) = Testbed::up(4, false) else {
        return;
    };
    let t = Test::new();
    let spec = fleet_spec(&t, &tb, &tb.hosts, "parallel = 1\ncanary = 1").replacen(
        "[hooks]\n",
        "[hooks]\nstart = \"if [ -f /srv/gate ]; then touch /srv/started; sleep 3; fi\"\n",
        1,
    );
    t.write("Hoist.toml", &spec);
    t.hoist(&["deploy", "fleet"]).success();

    std::fs::write(tb.dir().join("h2/srv/gate"), "").unwrap();
    t.write("message.txt", "v2\n");
    let deploy = t.spawn(&["deploy", "fleet"]);
    Test::wait_for_file(&tb.dir().join("h2/srv/started"), Duration::from_secs(60));
    tb.stop_host("h3");
    let output = deploy.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&tb.hosts[2]),
        "the failing host is named: {stderr}"
    );
    assert!(stderr.contains("not reached"), "{stderr}");

    // h1 and h2 run v2; h4 was never reached and still serves v1.
    assert!(remote_get(&tb, &tb.hosts[0], t.port, "/").contains("v2"));
    assert!(remote_get(&tb, &tb.hosts[1], t.port, "/").contains("v2"));
    assert!(remote_get(&tb, &tb.hosts[3], t.port, "/").contains("v1"));

    tb.start_host("h3");
    std::fs::remove_file(tb.dir().join("h2/srv/gate")).unwrap();
    t.hoist(&["deploy", "fleet"])
        .success()
        .stderr_contains("already serves");
    for host in &tb.hosts {
        assert!(remote_get(&tb, host, t.port, "/").contains("v2"), "{host}");
    }
    t.hoist(&["check", "fleet"]).success();
    t.hoist(&["destroy", "fleet", "--yes"]).success();
}

#[test]
fn an_unknown_host_key_is_refused() {
    let Some(tb) = Testbed::up(1, false) else {
        return;
    };
    let t = Test::new();
    let config = t.temp.path().join("ssh_config");
    std::fs::write(t.temp.path().join("empty_known_hosts"), "").unwrap();
    std::fs::write(
        &config,
        format!(
            "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n",
            tb.identity.display(),
            t.temp.path().join("empty_known_hosts").display()
        ),
    )
    .unwrap();
    let spec = fleet_spec(&t, &tb, &tb.hosts, "").replace(
        &tb.ssh_config.display().to_string(),
        &config.display().to_string(),
    );
    t.write("Hoist.toml", &spec);
    t.hoist(&["deploy", "fleet"])
        .code(1)
        .stderr_contains("host key")
        .stderr_contains("ssh-keyscan");
    assert!(
        !host_root(&tb, "h1").exists(),
        "nothing was done on a host whose key is unknown"
    );
    let known = std::fs::read_to_string(t.temp.path().join("empty_known_hosts")).unwrap();
    assert!(known.is_empty(), "the key was not accepted blindly");
}

#[test]
fn an_unreachable_host_fails_within_the_connect_timeout() {
    let Some(tb) = Testbed::up(1, false) else {
        return;
    };
    let t = Test::new();
    let spec = fleet_spec(&t, &tb, std::slice::from_ref(&tb.unreachable), "");
    t.write(
        "Hoist.toml",
        &spec.replace("connect_timeout = \"3s\"", "connect_timeout = \"2s\""),
    );
    let started = Instant::now();
    t.hoist(&["deploy", "fleet"])
        .code(1)
        .stderr_contains(&tb.unreachable)
        .stderr_contains("connect_timeout");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

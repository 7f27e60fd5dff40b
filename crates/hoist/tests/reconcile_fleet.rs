//! The daemon's reconcile over real SSH hosts: a host whose sshd is down during the ticks is
//! recorded as drift once (and cleared when it is back), and nothing else changes — not on
//! that host, not on the others, even with `--repair`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::api_server::Server;
use crate::harness::{SPEC, Test};
use crate::testbed::Testbed;

fn spec(t: &Test, tb: &Testbed) -> String {
    let base = SPEC.replace("{port}", &t.port.to_string());
    let middle = &base[base.find("[hooks]").unwrap()..base.find("[env.dev]").unwrap()];
    let hosts: Vec<String> = tb.hosts.iter().map(|h| format!("\"root@{h}\"")).collect();
    format!(
        "[app]\nname = \"hello\"\n\n[build]\nupload = [\"app.py\", \"message.txt\"]\n\n{middle}\
         [env.fleet]\nhosts = [{}]\nroot = \"/srv/app\"\nssh_config = \"{}\"\nconnect_timeout = \"2s\"\n",
        hosts.join(", "),
        tb.ssh_config.display(),
    )
}

/// The recorded instance pid of host `n` (1-based), read from its root on disk.
fn instance_pid(tb: &Testbed, n: usize) -> u64 {
    let path: PathBuf = tb.dir().join(format!("h{n}/srv/app/run/instance.json"));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    record["pid"].as_u64().unwrap()
}

fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

fn events(t: &Test) -> Vec<serde_json::Value> {
    let out = t.hoist(&["events", "fleet", "--json"]).success().stdout;
    out.lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

fn count(events: &[serde_json::Value], kind: &str) -> usize {
    events.iter().filter(|event| event["kind"] == kind).count()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_host_whose_sshd_is_down_is_drift_recorded_once_and_nothing_else_changes() {
    let Some(tb) = Testbed::up(2, false) else {
        return;
    };
    let t = Test::new();
    t.write("Hoist.toml", &spec(&t, &tb));
    t.hoist(&["deploy", "fleet"]).success();
    let pids = [instance_pid(&tb, 1), instance_pid(&tb, 2)];
    let commands_before = t.hoist(&["commands", "list", "--json"]).success().json();

    let daemon = Server::start_with(&t, &["--reconcile-every", "300ms", "--repair"], &[]);
    tb.stop_host("h2");
    let unreachable = tb.hosts[1].clone();
    wait_until("drift.detected naming h2", || {
        events(&t).iter().any(|event| {
            event["kind"] == "drift.detected"
                && event["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&unreachable) && m.contains("cannot reach"))
        })
    });
    // Several ticks with the host still down: recorded once, nothing repaired or restarted.
    std::thread::sleep(Duration::from_millis(1500));
    let seen = events(&t);
    assert_eq!(count(&seen, "drift.detected"), 1, "{seen:#?}");
    let commands_after = t.hoist(&["commands", "list", "--json"]).success().json();
    assert_eq!(
        commands_after, commands_before,
        "no command ran while a host was unreachable"
    );
    assert_eq!([instance_pid(&tb, 1), instance_pid(&tb, 2)], pids);
    assert!(
        pids.iter().all(|pid| alive(*pid)),
        "both instances still run"
    );

    // The host comes back: the drift clears, still without any repair.
    tb.start_host("h2");
    wait_until("drift.cleared", || count(&events(&t), "drift.cleared") == 1);
    assert_eq!([instance_pid(&tb, 1), instance_pid(&tb, 2)], pids);
    let log = daemon.stderr();
    assert!(log.contains("drift in `fleet`"), "{log}");
    assert!(!log.contains("repaired"), "{log}");
}

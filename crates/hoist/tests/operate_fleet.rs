//! Operating a fleet of real SSH hosts: `restart` rolls across them one at a time, and the
//! daemon's reconcile records a host whose sshd is down during the ticks as drift once (and
//! clears it when it is back), changing nothing else — not on that host, not on the others,
//! even with `--repair`.

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
    let log = daemon.log();
    assert!(log.contains("drift in `fleet`"), "{log}");
    assert!(!log.contains("repaired"), "{log}");
}

#[test]
fn restart_rolls_across_the_hosts_one_at_a_time() {
    let Some(tb) = Testbed::up(2, false) else {
        return;
    };
    let t = Test::new();
    let spec = spec(&t, &tb).replace(
        "connect_timeout = \"2s\"\n",
        "connect_timeout = \"2s\"\nparallel = 1\n",
    );
    t.write("Hoist.toml", &spec);
    t.hoist(&["deploy", "fleet"]).success();
    let before = [instance_pid(&tb, 1), instance_pid(&tb, 2)];
    let outcome = t.hoist(&["restart", "fleet"]).success();
    let after = [instance_pid(&tb, 1), instance_pid(&tb, 2)];
    assert!(
        before.iter().zip(&after).all(|(b, a)| b != a),
        "{before:?} {after:?}"
    );
    assert!(
        !before.iter().any(|pid| alive(*pid)),
        "the old instances are gone"
    );
    // One host after the other: the first is healthy before the second is touched.
    let stderr = &outcome.stderr;
    let first_healthy = stderr.find("healthy after").expect("a probe");
    let second_restart = stderr
        .match_indices("is restarted; starting it again")
        .nth(1)
        .map(|(at, _)| at)
        .expect("two restarts");
    assert!(first_healthy < second_restart, "{stderr}");
    let status = t.hoist(&["status", "fleet", "--json"]).success().json();
    assert_eq!(status["last_command"]["kind"], "restart");
    let steps: Vec<String> = status["last_command"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|step| step["step"].as_str().map(str::to_owned))
        .filter(|step| step.starts_with("restart @ "))
        .collect();
    assert_eq!(steps.len(), 2, "{steps:?}");
    t.hoist(&["check", "fleet"]).success();
}

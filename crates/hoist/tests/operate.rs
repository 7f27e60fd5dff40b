//! Operating a deployed environment: `hoist restart` (blue-green under load with no failed
//! request; recreate in place) and the reconcile loop of `hoist serve` (drift recorded as an
//! event once, cleared, repaired only with `--repair`).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::api_server::Server;
use crate::blue_green::{assert_converged, blue_green};
use crate::harness::Test;
use crate::load_loop::LoadLoop;

/// The pid recorded for the root's single (recreate) or routed instance.
fn recorded_pids(root: &Path) -> Vec<u64> {
    ["instance.json", "instance-blue.json", "instance-green.json"]
        .iter()
        .filter_map(|name| std::fs::read_to_string(root.join("run").join(name)).ok())
        .filter_map(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .filter_map(|record| record["pid"].as_u64())
        .collect()
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The kinds of the environment's events, oldest first.
fn event_kinds(t: &Test) -> Vec<String> {
    let events = t.hoist(&["events", "dev", "--json"]).success().stdout;
    events
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|event| event["kind"].as_str().map(str::to_owned))
        .collect()
}

fn kill(pid: u64) {
    let pid = i32::try_from(pid).expect("a pid");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[test]
fn restart_under_load_with_blue_green_drops_no_request() {
    let t = blue_green();
    t.hoist(&["deploy", "dev"]).success();
    let live = t.live().unwrap();
    let before = recorded_pids(&t.root);
    assert_eq!(before.len(), 1, "{before:?}");

    let load = LoadLoop::start(t.port, "/", 4);
    for _ in 0..2 {
        t.hoist(&["restart", "dev"])
            .success()
            .stderr_contains("[1/1] restart")
            .stderr_contains("stopped `");
    }
    std::thread::sleep(Duration::from_millis(200));
    let result = load.finish();
    assert!(result.requests > 50, "{} requests", result.requests);
    assert_eq!(result.failures, Vec::<String>::new(), "failed requests");

    // Same release, a new instance, one instance left, everything recorded.
    assert_eq!(t.live().unwrap(), live);
    let after = recorded_pids(&t.root);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before, "a new instance serves");
    assert_converged(&t, &live);
    let status = t.hoist(&["status", "dev", "--json"]).success().json();
    assert_eq!(status["last_command"]["kind"], "restart");
    assert_eq!(status["last_command"]["status"], "succeeded");
    assert_eq!(
        status["hosts"][0]["instance"]["supervision"]["status"], "running",
        "{status:#}"
    );
}

#[test]
fn restart_with_recreate_starts_the_same_release_again() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let live = t.live().unwrap();
    let before = recorded_pids(&t.root);
    t.hoist(&["restart", "dev"])
        .success()
        .stderr_contains("is restarted; starting it again")
        .stdout_contains(&format!("restarted `{live}` in `dev`"));
    assert_eq!(t.live().unwrap(), live);
    let after = recorded_pids(&t.root);
    assert_eq!(after.len(), 1);
    assert_ne!(after, before);
    assert!(t.body().contains("v1"));
    t.hoist(&["check", "dev"]).success();
}

#[test]
fn restart_of_an_environment_not_running_is_refused_with_the_command_that_helps() {
    let t = Test::new();
    t.hoist(&["restart", "dev"])
        .code(1)
        .stderr_contains("cannot restart environment in state `unknown`")
        .stderr_contains("hoist deploy dev");
}

#[test]
fn the_daemon_records_drift_once_and_its_end_and_repairs_only_when_asked() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    // The supervisor first, so nothing brings the instance back but the daemon.
    let supervisor = std::fs::read_to_string(t.root.join("run/supervisor.json")).unwrap();
    let supervisor: serde_json::Value = serde_json::from_str(&supervisor).unwrap();
    kill(supervisor["pid"].as_u64().unwrap());
    kill(recorded_pids(&t.root)[0]);

    {
        let _daemon = Server::start_with(&t, &["--reconcile-every", "200ms"], &[]);
        wait_until("drift.detected", Duration::from_secs(20), || {
            event_kinds(&t).iter().any(|kind| kind == "drift.detected")
        });
        // Several ticks later the same drift is still recorded once, and nothing was repaired.
        std::thread::sleep(Duration::from_millis(1000));
        let kinds = event_kinds(&t);
        assert_eq!(
            kinds
                .iter()
                .filter(|kind| *kind == "drift.detected")
                .count(),
            1,
            "{kinds:?}"
        );
        // Only the deploy ran a command: the daemon repaired nothing.
        assert_eq!(
            kinds
                .iter()
                .filter(|kind| *kind == "command.started")
                .count(),
            1,
            "{kinds:?}"
        );
        assert!(
            crate::harness::http_get_at(std::net::SocketAddr::from(([127, 0, 0, 1], t.port)), "/")
                .is_err()
        );
    }
    let events = t.hoist(&["events", "dev", "--json"]).success().stdout;
    assert!(events.contains("is not running"), "{events}");

    // With --repair the daemon brings it back, as a recorded repair, and the drift clears.
    let _daemon = Server::start_with(&t, &["--reconcile-every", "200ms", "--repair"], &[]);
    wait_until(
        "the service to serve again",
        Duration::from_secs(30),
        || {
            crate::harness::http_get_at(std::net::SocketAddr::from(([127, 0, 0, 1], t.port)), "/")
                .is_ok_and(|(status, _)| status == 200)
        },
    );
    wait_until("drift.cleared", Duration::from_secs(20), || {
        event_kinds(&t).iter().any(|kind| kind == "drift.cleared")
    });
    let commands = t.hoist(&["commands", "list", "--json"]).success().json();
    assert!(
        commands
            .as_array()
            .unwrap()
            .iter()
            .any(|command| command["kind"] == "repair" && command["status"] == "succeeded"),
        "{commands:#}"
    );
    t.hoist(&["check", "dev"]).success();
}

//! Blue-green through the built-in proxy: swaps that drop no request, a failed probe that
//! never moves the route, rollback through the same path, the proxy restarted with its
//! routes, maintenance, and `check`/`check --fix` on what a crash leaves.

use std::time::Duration;

use crate::harness::{SPEC, Test};
use crate::load_loop::LoadLoop;

pub fn blue_green_spec() -> String {
    SPEC.replace(
        "stop_grace = \"3s\"",
        "stop_grace = \"3s\"\nstrategy = \"blue-green\"\ndrain = \"2s\"",
    )
}

pub fn blue_green() -> Test {
    Test::new().spec(&blue_green_spec())
}

/// The host's check report for `dev` (exit code ignored).
pub fn check(t: &Test) -> serde_json::Value {
    let outcome = t.hoist(&["check", "dev", "--json"]);
    let report = outcome.json();
    report["hosts"][0].clone()
}

/// The slots `check` saw running.
pub fn running_slots(host: &serde_json::Value) -> Vec<String> {
    host["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|slot| slot["alive"] == true)
        .map(|slot| slot["slot"].as_str().unwrap().to_owned())
        .collect()
}

/// After a finished deploy: one instance, routed, recorded, healthy, no strays.
pub fn assert_converged(t: &Test, release: &str) {
    let outcome = t.hoist(&["check", "dev", "--json"]);
    let report = outcome.json();
    assert_eq!(report["ok"], true, "check after convergence: {report:#}");
    let host = &report["hosts"][0];
    assert_eq!(running_slots(host).len(), 1, "{host:#}");
    assert_eq!(host["instance_release"], release);
    assert_eq!(
        host["recorded"]["release"], release,
        "the store's live instance"
    );
    assert_eq!(host["strays"].as_array().unwrap().len(), 0);
    let routed = host["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|slot| slot["routed"] == true)
        .expect("a routed slot");
    assert_eq!(
        host["route"].as_str().unwrap(),
        format!("127.0.0.1:{}", routed["port"]),
        "the route names the live instance's port"
    );
    t.assert_invariants();
}

#[test]
fn a_swap_under_load_drops_no_request_and_leaves_one_instance() {
    let t = blue_green();
    t.hoist(&["deploy", "dev"])
        .success()
        .stderr_contains("started the proxy");
    let first = t.live().unwrap();
    assert!(t.body().contains("v1"));
    assert_converged(&t, &first);

    let load = LoadLoop::start(t.port, "/", 4);
    for version in ["v2", "v3"] {
        t.write("message.txt", &format!("{version}\n"));
        t.hoist(&["deploy", "dev"])
            .success()
            .stderr_contains("stopped `");
    }
    std::thread::sleep(Duration::from_millis(200));
    let result = load.finish();
    assert!(result.requests > 50, "{} requests", result.requests);
    assert_eq!(result.failures, Vec::<String>::new(), "failed requests");
    assert!(
        result.bodies.iter().any(|b| b.contains("v2")),
        "{:?}",
        result.bodies
    );
    assert!(t.body().contains("v3"));
    let third = t.live().unwrap();
    assert_converged(&t, &third);

    // The command's record names each blue-green step on the host.
    let commands = t.hoist(&["status", "dev", "--json"]).success().json();
    assert_eq!(commands["last_command"]["status"], "succeeded");
    let steps: Vec<String> = commands["last_command"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap().to_owned())
        .collect();
    for step in [
        "blue-green start",
        "blue-green probe",
        "blue-green route",
        "blue-green stop",
    ] {
        assert!(
            steps.iter().any(|s| s.starts_with(step)),
            "{step} in {steps:?}"
        );
    }
}

#[test]
fn a_failed_probe_never_moves_the_route_and_the_old_release_keeps_serving() {
    let t = blue_green();
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();

    t.write("unhealthy", "");
    t.write("message.txt", "v2\n");
    let spec = blue_green_spec().replace("deadline = \"10s\"", "deadline = \"1s\"");
    let t = t.spec(&spec);
    let load = LoadLoop::start(t.port, "/", 2);
    t.hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains("failed its health check")
        .stderr_contains("the route did not move")
        .stderr_contains("503")
        .stderr_contains("service log")
        .stderr_contains(&format!("`{first}` keeps serving"));
    let result = load.finish();
    assert_eq!(result.failures, Vec::<String>::new());
    assert!(
        result.bodies.iter().all(|b| b.contains("v1")),
        "{:?}",
        result.bodies
    );
    assert_eq!(t.live().as_deref(), Some(first.as_str()));
    assert_converged(&t, &first);

    t.remove("unhealthy");
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().contains("v2"));
}

#[test]
fn rollback_goes_through_the_same_swap() {
    let t = blue_green();
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();

    let load = LoadLoop::start(t.port, "/", 2);
    t.hoist(&["rollback", "dev"]).success();
    let result = load.finish();
    assert_eq!(result.failures, Vec::<String>::new());
    assert!(t.body().contains("v1"));
    assert_converged(&t, &first);
}

#[test]
fn a_dead_proxy_is_reported_then_started_again_with_its_route() {
    let t = blue_green();
    t.hoist(&["deploy", "dev"]).success();
    let live = t.live().unwrap();
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.root.join("run/proxy.json")).unwrap())
            .unwrap();
    let pid = record["pid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(t.get("/").is_err(), "nothing listens with the proxy dead");

    t.hoist(&["check", "dev"])
        .code(1)
        .stdout_contains("the proxy")
        .stdout_contains("is not running");
    t.hoist(&["check", "dev", "--fix"])
        .success()
        .stdout_contains("started the dead proxy again");
    assert!(t.body().contains("v1"), "the restored route serves");
    assert_converged(&t, &live);

    // `run` starts it again too.
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.root.join("run/proxy.json")).unwrap())
            .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(record["pid"].as_i64().unwrap() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    t.hoist(&["run", "dev"])
        .success()
        .stderr_contains("started it again with its routes");
    assert!(t.body().contains("v1"));
}

#[test]
fn maintenance_answers_503_but_health_paths_pass() {
    let t = blue_green();
    t.hoist(&["deploy", "dev"]).success();
    t.hoist(&["maintenance", "on", "dev"]).success();
    let (status, body) = t.get("/").unwrap();
    assert_eq!(status, 503);
    assert!(body.contains("maintenance"), "{body}");
    assert_eq!(t.get("/health").unwrap().0, 200);
    assert_eq!(check(&t)["maintenance"], true);
    // A deploy in maintenance still swaps (migrations run behind the page).
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();
    assert_eq!(t.get("/").unwrap().0, 503);
    t.hoist(&["maintenance", "off", "dev"]).success();
    assert!(t.body().contains("v2"));
    let events = t.hoist(&["status", "dev", "--json"]).success().json();
    assert_eq!(events["last_command"]["kind"], "maintenance");
}

#[test]
fn maintenance_needs_the_builtin_proxy() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    t.hoist(&["maintenance", "on", "dev"])
        .code(1)
        .stderr_contains("built-in proxy")
        .stderr_contains("blue-green");
}

#[test]
fn switching_from_recreate_to_blue_green_takes_over_the_port() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let t = t.spec(&blue_green_spec());
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"])
        .success()
        .stderr_contains("stopping the recreate instance");
    assert!(t.body().contains("v2"));
    let live = t.live().unwrap();
    assert_converged(&t, &live);
}

//! SIGKILL of hoist at every step boundary of a container swap, under load: no request
//! fails, `check` reports exactly the containers that run (compared with the engine's own
//! list), the route names a running one, and the next `deploy` converges to one routed,
//! recorded container.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use crate::blue_green::{assert_converged, check, running_slots};
use crate::blue_green_crash::assert_one_running_route;
use crate::containers::{container_test, deploy_with};
use crate::load_loop::LoadLoop;

/// The slots whose container the engine runs for the deploy root.
fn slots_running_per_engine(root: &std::path::Path) -> BTreeSet<String> {
    let id = std::fs::read_to_string(root.join(".hoist/root-id")).unwrap();
    let prefix = format!("hoist-{}-", id.trim());
    let output = Command::new("podman")
        .args([
            "ps",
            &format!("--filter=label=hoist.root={}", id.trim()),
            "--filter=status=running",
            "--format={{.Names}}",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|name| name.strip_prefix(&prefix).map(str::to_owned))
        .collect()
}

fn crash_at(point: &str) {
    let t = container_test();
    deploy_with(&t, &[]).success();
    let load = LoadLoop::start(t.port, "/", 3);
    t.write("message.txt", "v2\n");
    let crashed = deploy_with(&t, &[("HOIST_FAILPOINT", point)]);
    assert_eq!(
        crashed.code, -1,
        "hoist should have died at {point}: {crashed:?}"
    );
    t.assert_invariants();

    let host = check(&t);
    let reported: BTreeSet<String> = running_slots(&host).into_iter().collect();
    assert_eq!(
        reported,
        slots_running_per_engine(&t.root),
        "{point}: check reports exactly the containers that run: {host:#}"
    );
    assert_one_running_route(&host, point);

    deploy_with(&t, &[]).success();
    std::thread::sleep(Duration::from_millis(100));
    let result = load.finish();
    assert_eq!(
        result.failures,
        Vec::<String>::new(),
        "{point}: failed requests"
    );
    assert_eq!(t.body().trim(), "v2", "after recovering from {point}");
    let live = t.live().unwrap();
    assert_converged(&t, &live);
    assert_eq!(slots_running_per_engine(&t.root).len(), 1, "{point}");
}

#[test]
fn crash_after_start() {
    crash_at("blue_green.after_start");
}

#[test]
fn crash_after_probe() {
    crash_at("blue_green.after_probe");
}

#[test]
fn crash_after_route() {
    crash_at("blue_green.after_route");
}

#[test]
fn crash_after_switch() {
    crash_at("blue_green.after_switch");
}

#[test]
fn crash_after_persist() {
    crash_at("blue_green.after_persist");
}

#[test]
fn crash_after_drain() {
    crash_at("blue_green.after_drain");
}

#[test]
fn crash_after_stop() {
    crash_at("blue_green.after_stop");
}

#[test]
fn crash_after_upload() {
    crash_at("release.after_upload");
}

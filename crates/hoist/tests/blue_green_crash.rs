//! SIGKILL at every step boundary of a blue-green run, under load: no request fails, `check`
//! reports exactly the instances that run (compared with a scan of `/proc`), the route never
//! names a stopped instance, nothing runs that no record owns, and the next `deploy`
//! converges to one routed, recorded instance.

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use crate::blue_green::{assert_converged, blue_green, check, running_slots};
use crate::harness::Test;
use crate::load_loop::LoadLoop;

const POINTS: [&str; 7] = [
    "blue_green.after_start",
    "blue_green.after_probe",
    "blue_green.after_route",
    "blue_green.after_switch",
    "blue_green.after_persist",
    "blue_green.after_drain",
    "blue_green.after_stop",
];

/// The slots of the instances of this root that really run: group leaders whose environment
/// carries the root's instance mark, read straight from `/proc`.
fn slots_running_per_proc(t: &Test) -> BTreeSet<String> {
    let id = std::fs::read_to_string(t.root.join(".hoist/root-id")).unwrap();
    let prefix = format!("HOIST_INSTANCE={}:", id.trim());
    let mut slots = BTreeSet::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .collect();
        if fields[0] == "Z" || fields[2] != pid.to_string() {
            continue;
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        for variable in environ.split(|&b| b == 0) {
            if let Some(slot) = String::from_utf8_lossy(variable).strip_prefix(&prefix) {
                slots.insert(slot.to_owned());
            }
        }
    }
    slots
}

/// `check`'s host report names one routed slot, and it runs.
pub fn assert_one_running_route(host: &serde_json::Value, point: &str) {
    let routed: Vec<&serde_json::Value> = host["slots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|slot| slot["routed"] == true)
        .collect();
    assert_eq!(routed.len(), 1, "{point}: one routed instance: {host:#}");
    assert_eq!(
        routed[0]["alive"], true,
        "{point}: the route names a running instance: {host:#}"
    );
}

fn crash_at(point: &str) {
    let t = blue_green();
    t.hoist(&["deploy", "dev"]).success();
    let load = LoadLoop::start(t.port, "/", 3);
    t.write("message.txt", "v2\n");
    let crashed = t.hoist_with(&["deploy", "dev"], &[("HOIST_FAILPOINT", point)]);
    assert_eq!(
        crashed.code, -1,
        "hoist should have died at {point}: {crashed:?}"
    );
    t.assert_invariants();

    let host = check(&t);
    let reported: BTreeSet<String> = running_slots(&host).into_iter().collect();
    assert_eq!(
        reported,
        slots_running_per_proc(&t),
        "{point}: check reports exactly what runs: {host:#}"
    );
    assert_eq!(
        host["strays"].as_array().unwrap().len(),
        0,
        "{point}: {host:#}"
    );
    assert_one_running_route(&host, point);
    assert_eq!(host["healthy"], true, "{point}: {host:#}");
    assert!(
        !host["problems"].as_array().unwrap().is_empty(),
        "{point}: check notices the interrupted swap: {host:#}"
    );

    t.hoist(&["deploy", "dev"])
        .success()
        .stderr_contains("interrupted");
    std::thread::sleep(Duration::from_millis(100));
    let result = load.finish();
    assert_eq!(
        result.failures,
        Vec::<String>::new(),
        "{point}: failed requests"
    );
    assert!(t.body().contains("v2"), "after recovering from {point}");
    let live = t.live().unwrap();
    assert_converged(&t, &live);
    assert_eq!(slots_running_per_proc(&t).len(), 1);
}

#[test]
fn crash_after_start() {
    crash_at(POINTS[0]);
}

#[test]
fn crash_after_probe() {
    crash_at(POINTS[1]);
}

#[test]
fn crash_after_route() {
    crash_at(POINTS[2]);
}

#[test]
fn crash_after_switch() {
    crash_at(POINTS[3]);
}

#[test]
fn crash_after_persist() {
    crash_at(POINTS[4]);
}

#[test]
fn crash_after_drain() {
    crash_at(POINTS[5]);
}

#[test]
fn crash_after_stop() {
    crash_at(POINTS[6]);
}

#[test]
fn check_fix_stops_what_no_record_owns() {
    let t = blue_green();
    t.hoist(&["deploy", "dev"]).success();
    let live = t.live().unwrap();
    // An instance started then abandoned by a crash, and a process carrying the root's
    // mark whose record is gone.
    t.write("message.txt", "v2\n");
    t.hoist_with(&["deploy", "dev"], &[("HOIST_FAILPOINT", POINTS[0])]);
    let id = std::fs::read_to_string(t.root.join(".hoist/root-id")).unwrap();
    let mut stray = std::process::Command::new("sh")
        .args(["-c", "exec sleep 60"])
        .env("HOIST_INSTANCE", format!("{}:blue", id.trim()))
        .process_group(0)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));

    let host = check(&t);
    assert_eq!(running_slots(&host).len(), 2, "{host:#}");
    assert_eq!(host["strays"][0]["pid"], stray.id(), "{host:#}");

    let fixed = t.hoist(&["check", "dev", "--fix", "--json"]).json();
    let fixed_lines = fixed["fixed"].to_string();
    assert!(fixed_lines.contains("stopped stray pid"), "{fixed:#}");
    assert!(
        fixed_lines.contains("stopped the unrouted green"),
        "{fixed:#}"
    );
    assert!(stray.try_wait().unwrap().is_some(), "the stray was stopped");
    let host = &fixed["hosts"][0];
    assert_eq!(running_slots(host), ["blue"]);
    assert_eq!(host["instance_release"], live.as_str());
    assert!(
        t.body().contains("v1"),
        "the routed instance was left alone"
    );
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().contains("v2"));
}

//! `kill -9` at any step boundary of release and run, or in the middle of a slow hook or a
//! slow start: the next `deploy` notices the dead runner, continues, and the layout
//! invariants hold.

use std::time::Duration;

use crate::harness::Test;

/// Deploys v1, then tries v2 with a failpoint, then deploys again without it.
fn crash_at(point: &str) {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    t.write("message.txt", "v2\n");
    let crashed = t.hoist_with(&["deploy", "dev"], &[("HOIST_FAILPOINT", point)]);
    assert_eq!(
        crashed.code, -1,
        "hoist should have died at {point}: {crashed:?}"
    );
    t.assert_invariants();

    t.hoist(&["deploy", "dev"])
        .success()
        .stderr_contains("interrupted");
    assert!(t.body().contains("v2"), "after recovering from {point}");
    t.assert_invariants();
    t.hoist(&["check", "dev"]).success();
    let commands = t.hoist(&["status", "dev", "--json"]).success().json();
    assert_eq!(commands["state"], "running");
}

#[test]
fn crash_after_upload() {
    crash_at("release.after_upload");
}

#[test]
fn crash_before_ready() {
    crash_at("release.before_ready");
}

#[test]
fn crash_after_stop() {
    crash_at("run.after_stop");
}

#[test]
fn crash_after_switch() {
    crash_at("run.after_switch");
}

#[test]
fn crash_after_start() {
    crash_at("run.after_start");
}

#[test]
fn kill_during_a_slow_post_upload_hook() {
    let t = Test::new();
    let gate = t.temp.path().join("gate");
    let started = t.temp.path().join("hook-started");
    let spec = std::fs::read_to_string(t.project.join("Hoist.toml")).unwrap().replace(
        "post_upload = \"python3 -m py_compile app.py\"",
        &format!(
            "post_upload = \"if [ -f {} ]; then touch {}; sleep 5; fi; python3 -m py_compile app.py\"",
            gate.display(),
            started.display()
        ),
    );
    t.write("Hoist.toml", &spec);
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();

    std::fs::write(&gate, "").unwrap();
    t.write("message.txt", "v2\n");
    let mut child = t.spawn(&["deploy", "dev"]);
    Test::wait_for_file(&started, Duration::from_secs(20));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(t.live().as_deref(), Some(first.as_str()));
    assert!(t.body().contains("v1"), "old release still serves");
    t.assert_invariants();

    std::fs::remove_file(&gate).unwrap();
    // The cut-off release is marked failed, never made live (then pruned with the rest).
    t.hoist(&["deploy", "dev"])
        .success()
        .stderr_contains("was cut off; marked failed");
    assert!(t.body().contains("v2"));
    t.assert_invariants();
    let rows = t
        .hoist(&["releases", "list", "dev", "--json"])
        .success()
        .json();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] != "uploading"),
        "{rows}"
    );
}

#[test]
fn kill_while_the_new_release_starts() {
    let t = Test::new();
    let gate = t.temp.path().join("gate");
    let started = t.temp.path().join("service-starting");
    let spec = std::fs::read_to_string(t.project.join("Hoist.toml"))
        .unwrap()
        .replace(
            "command = \"exec python3 app.py\"",
            &format!(
                "command = \"if [ -f {} ]; then touch {}; sleep 5; fi; exec python3 app.py\"",
                gate.display(),
                started.display()
            ),
        );
    t.write("Hoist.toml", &spec);
    t.hoist(&["deploy", "dev"]).success();

    std::fs::write(&gate, "").unwrap();
    t.write("message.txt", "v2\n");
    let mut child = t.spawn(&["deploy", "dev"]);
    Test::wait_for_file(&started, Duration::from_secs(20));
    child.kill().unwrap();
    child.wait().unwrap();
    t.assert_invariants();
    // `check` tells the truth: the new instance is not healthy yet.
    let report = t.hoist(&["check", "dev", "--json"]);
    assert!(report.stdout.contains("\"address\""), "{report:?}");

    std::fs::remove_file(&gate).unwrap();
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().contains("v2"));
    t.hoist(&["check", "dev"]).success();
}

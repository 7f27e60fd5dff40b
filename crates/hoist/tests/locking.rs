//! One state-changing command per environment: a second one fails at once naming the
//! holder (exit 3), `--lock-wait` waits, and a dead holder's lock is reclaimed.

use std::time::Duration;

use crate::harness::Test;

fn gated_spec(t: &Test) -> (std::path::PathBuf, std::path::PathBuf) {
    let gate = t.temp.path().join("gate");
    let started = t.temp.path().join("hook-started");
    let spec = std::fs::read_to_string(t.project.join("Hoist.toml"))
        .unwrap()
        .replace(
            "post_upload = \"python3 -m py_compile app.py\"",
            &format!(
                "post_upload = \"if [ -f {} ]; then touch {}; sleep 2; fi\"",
                gate.display(),
                started.display()
            ),
        );
    t.write("Hoist.toml", &spec);
    (gate, started)
}

#[test]
fn a_second_deploy_is_refused_naming_the_holder_then_waits() {
    let t = Test::new();
    let (gate, started) = gated_spec(&t);
    std::fs::write(&gate, "").unwrap();
    let mut first = t.spawn(&["deploy", "dev"]);
    Test::wait_for_file(&started, Duration::from_secs(20));

    t.hoist(&["deploy", "dev"])
        .code(3)
        .stderr_contains("environment `dev` is locked")
        .stderr_contains("hoist deploy dev")
        .stderr_contains(&format!("pid {}", first.id()))
        .stderr_contains("--lock-wait");

    let waited = t.hoist(&["deploy", "dev", "--lock-wait", "60s"]);
    let first_status = first.wait().unwrap();
    assert!(first_status.success(), "the first deploy succeeds");
    waited.success();
    t.assert_invariants();

    // The refused attempt is on the record too.
    let listed = t.hoist(&["status", "dev", "--json"]).success().json();
    assert_eq!(listed["state"], "running");
}

#[test]
fn a_dead_holders_lock_is_reclaimed_with_a_message() {
    let t = Test::new();
    let (gate, started) = gated_spec(&t);
    t.hoist(&["deploy", "dev"]).success();
    std::fs::write(&gate, "").unwrap();
    t.write("message.txt", "v2\n");
    let mut first = t.spawn(&["deploy", "dev"]);
    Test::wait_for_file(&started, Duration::from_secs(20));
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        t.root.join(".hoist").join("lock").exists(),
        "the dead runner left its lock file"
    );

    std::fs::remove_file(&gate).unwrap();
    t.hoist(&["deploy", "dev"])
        .success()
        .stderr_contains("reclaimed the lock")
        .stderr_contains("took over the lease");
    assert!(
        !t.root.join(".hoist").join("lock").exists(),
        "lock released after the deploy"
    );
    assert!(t.body().contains("v2"));
}

//! Failed steps never strand an environment: the old release keeps serving, the failure is
//! recorded with its step, and `deploy` continues after the fix.

use crate::harness::Test;

#[test]
fn failing_post_upload_keeps_the_old_release_and_deploy_continues() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();

    t.write("app.py", "this is not python(\n");
    t.hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains("failed at step `release`")
        .stderr_contains("post_upload")
        .stderr_contains("hoist deploy dev");
    assert_eq!(t.live().as_deref(), Some(first.as_str()));
    assert!(t.body().contains("v1"), "old release keeps serving");
    let status = t.hoist(&["status", "dev", "--json"]).success().json();
    assert_eq!(status["failure"]["step"], "release");
    t.assert_invariants();

    t.write("app.py", crate::harness::APP_PY);
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().contains("v2"));
    let status = t.hoist(&["status", "dev", "--json"]).success().json();
    assert!(status["failure"].is_null(), "failure cleared: {status}");
    // The failed release never counts as a rollback target.
    t.hoist(&["rollback", "dev"]).success();
    assert_eq!(t.live().as_deref(), Some(first.as_str()));
    t.assert_invariants();
}

#[test]
fn failing_health_check_puts_the_old_release_back() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();

    t.write("unhealthy", "");
    t.write("message.txt", "v2\n");
    let spec = std::fs::read_to_string(t.project.join("Hoist.toml"))
        .unwrap()
        .replace("deadline = \"10s\"", "deadline = \"1s\"");
    t.write("Hoist.toml", &spec);
    t.hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains("failed its health check")
        .stderr_contains("503")
        .stderr_contains("failed at step `run`");
    assert_eq!(
        t.live().as_deref(),
        Some(first.as_str()),
        "live switched back"
    );
    assert!(t.body().contains("v1"), "old release serves again");
    t.assert_invariants();
    let rows = t
        .hoist(&["releases", "list", "dev", "--json"])
        .success()
        .json();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|r| r["status"] == "failed"),
        "{rows}"
    );

    t.remove("unhealthy");
    // The short deadline was for the failing deploy; a loaded machine can take longer than
    // 1 s to start Python.
    t.write(
        "Hoist.toml",
        &spec.replace("deadline = \"1s\"", "deadline = \"10s\""),
    );
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().contains("v2"));
    t.hoist(&["check", "dev"]).success();
    t.assert_invariants();
}

#[test]
fn failing_build_step_is_reported_with_its_output() {
    let t = Test::new();
    let spec = std::fs::read_to_string(t.project.join("Hoist.toml"))
        .unwrap()
        .replace(
            "[build]\n",
            "[build]\nsteps = [\"echo building; echo broken >&2; exit 4\"]\n",
        );
    t.write("Hoist.toml", &spec);
    t.hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains("exited with status 4")
        .stderr_contains("broken");
    assert!(t.live().is_none());
}

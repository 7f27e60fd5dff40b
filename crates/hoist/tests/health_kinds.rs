//! `[service.health]` kinds besides HTTP, through real deploys of the example service: a TCP
//! check that passes, and a command check that fails and puts the old release back.

use crate::harness::Test;

/// The default spec with its HTTP check replaced by `check` (lines of `[service.health]`).
fn with_check(t: &Test, check: &str) {
    let spec = std::fs::read_to_string(t.project.join("Hoist.toml"))
        .unwrap()
        .replace("path = \"/health\"", check)
        // A command check starts python: on a loaded 2-core CI machine that took over 1 s.
        .replace("timeout = \"1s\"", "timeout = \"4s\"")
        .replace("deadline = \"10s\"", "deadline = \"6s\"");
    t.write("Hoist.toml", &spec);
}

#[test]
fn a_tcp_check_passes_once_the_service_listens() {
    let t = Test::new();
    with_check(&t, "kind = \"tcp\"");
    t.hoist(&["deploy", "dev"])
        .success()
        .stderr_contains("healthy after");
    assert!(t.body().contains("v1"));
    t.hoist(&["check", "dev"]).success();
    t.assert_invariants();
}

#[test]
fn a_failing_command_check_puts_the_old_release_back() {
    let t = Test::new();
    // Runs in the release directory: healthy while the release has no `unhealthy` file and
    // the service accepts connections on `$PORT`.
    t.write(
        "check.sh",
        "test ! -f unhealthy || exit 1\n\
         exec python3 -c 'import os, socket; socket.create_connection((\"127.0.0.1\", int(os.environ[\"PORT\"])), 1)'\n",
    );
    with_check(&t, "kind = \"command\"\ncommand = \"sh check.sh\"");
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();

    t.write("unhealthy", "");
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains("failed its health check")
        .stderr_contains("command sh check.sh")
        .stderr_contains("exit 1");
    assert_eq!(
        t.live().as_deref(),
        Some(first.as_str()),
        "live switched back"
    );
    assert!(t.body().contains("v1"), "old release serves again");
    t.hoist(&["check", "dev"]).success();
    t.assert_invariants();
}

//! `--state postgres://…`: a whole deploy recorded in a real PostgreSQL database (the store's
//! own test server), read back by a later command that finds the URL in `HOIST_STATE`.

use crate::harness::Test;
use crate::postgres_server::TestServer;

#[test]
fn deploy_records_in_postgres_and_status_reads_it_back() {
    let url = TestServer::shared().fresh_database();
    let t = Test::new();
    t.hoist(&["--state", &url, "deploy", "dev"])
        .success()
        .stderr_contains("[5/5] run");
    assert!(t.body().contains("v1"), "{}", t.body());
    assert!(
        !t.project.join(".hoist").join("state.db").exists(),
        "nothing recorded in a SQLite file"
    );

    let status = t
        .hoist_with(&["status", "dev", "--json"], &[("HOIST_STATE", &url)])
        .success()
        .json();
    assert_eq!(status["state"], "running");
    assert_eq!(
        status["live_release"].as_str(),
        t.live().as_deref(),
        "{status:#}"
    );
    assert_eq!(status["last_command"]["kind"], "deploy", "{status:#}");
    assert_eq!(status["last_command"]["status"], "succeeded", "{status:#}");
    assert_eq!(status["hosts"][0]["instance"]["alive"], true, "{status:#}");
}

#[test]
fn a_missing_database_fails_without_showing_the_password() {
    let url = format!(
        "postgres://postgres:hunter2@/no_such_database?host={}",
        TestServer::shared().dir().display()
    );
    let t = Test::new();
    let outcome = t
        .hoist(&["--state", &url, "status", "dev"])
        .code(1)
        .stderr_contains("cannot open state store `postgres://postgres:***@/no_such_database")
        .stderr_contains("createdb");
    assert!(!outcome.stderr.contains("hunter2"), "{}", outcome.stderr);
}

//! The CLI with `HOIST_SERVER` set: state-changing commands and `hoist commands …` go
//! through a real `hoist serve` with a bearer token, with the same answers as on the store.

use crate::api_server::{Server, token, two_env_test};
use crate::harness::{Test, free_port};

fn remote<'a>(server: &Server, token: &'a str) -> (String, &'a str) {
    (format!("http://{}", server.address), token)
}

fn with<'a>(address: &'a str, token: &'a str) -> [(&'a str, &'a str); 2] {
    [("HOIST_SERVER", address), ("HOIST_TOKEN", token)]
}

/// The commands in the store, read directly (no `HOIST_SERVER`).
fn stored(t: &Test) -> Vec<serde_json::Value> {
    let list = t.hoist(&["commands", "list", "--json"]).success().json();
    list.as_array().cloned().unwrap_or_default()
}

#[test]
fn a_command_through_the_daemon_runs_there_and_the_cli_follows_it_to_its_end() {
    let t = two_env_test();
    let ci = token(&t, "ci", "deployer", &[]);
    let server = Server::start(&t, &[]);
    let (address, ci) = remote(&server, &ci);

    let deployed = t
        .hoist_with(&["deploy", "staging"], &with(&address, ci))
        .success()
        .stderr_contains("sent to")
        .stderr_contains("✓")
        .stdout_contains("deploy staging: done");
    let commands = stored(&t);
    assert_eq!(commands.len(), 1, "{commands:#?}\n{deployed:?}");
    assert_eq!(commands[0]["kind"], "deploy");
    assert_eq!(commands[0]["env"], "staging");
    assert_eq!(commands[0]["status"], "succeeded", "{:#}", commands[0]);
    assert_eq!(commands[0]["requested_by"], "token:ci", "{:#}", commands[0]);
    assert!(
        commands[0]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{:#}",
        commands[0]
    );

    // dev needs API_KEY, which the daemon's environment lacks: the command fails there at
    // configure, and the CLI ends like the local command would — exit 1 with its error.
    let failed = t
        .hoist_with(&["deploy", "dev"], &with(&address, ci))
        .code(1)
        .stderr_contains("deploy dev failed")
        .stderr_contains("API_KEY")
        .stderr_contains("hoist commands show");
    assert!(failed.stdout.is_empty(), "{failed:?}");
    // `--json`: the final record on stdout.
    let record = t
        .hoist_with(&["deploy", "dev", "--json"], &with(&address, ci))
        .code(1)
        .json();
    assert_eq!(record["status"], "failed", "{record:#}");
    assert_eq!(record["requested_by"], "token:ci", "{record:#}");
    assert!(
        record["error"]
            .as_str()
            .is_some_and(|e| e.contains("API_KEY")),
        "{record:#}"
    );
    assert_eq!(stored(&t).len(), 3, "{}", server.log());
}

#[test]
fn scheduled_commands_are_made_listed_moved_and_cancelled_through_the_api() {
    let t = two_env_test();
    let ops = token(&t, "ops", "admin", &[]);
    let server = Server::start(&t, &[]);
    let (address, ops) = remote(&server, &ops);
    let env = with(&address, ops);

    let scheduled = t
        .hoist_with(&["configure", "staging", "--in", "1h", "--json"], &env)
        .success()
        .json();
    let command = &scheduled["command"];
    assert_eq!(command["status"], "scheduled", "{scheduled:#}");
    assert_eq!(command["kind"], "configure", "{scheduled:#}");
    assert_eq!(command["requested_by"], "token:ops", "{scheduled:#}");
    assert_eq!(scheduled["served"], true, "the daemon serves its store");
    let id = command["id"].as_i64().expect("an id").to_string();
    let execute_at: jiff::Timestamp = command["execute_at"]
        .as_str()
        .and_then(|at| at.parse().ok())
        .expect("execute_at");
    let from_now = execute_at.as_second() - jiff::Timestamp::now().as_second();
    assert!((3500..=3600).contains(&from_now), "{from_now}s from now");

    let text = t
        .hoist_with(&["deploy", "staging", "--at", "2099-01-01T09:00:00Z"], &env)
        .success()
        .stdout_contains("scheduled command ")
        .stdout_contains("cancel with `hoist commands cancel ");
    assert!(!text.stderr.contains("no controller"), "{text:?}");

    let listed = t
        .hoist_with(&["commands", "list", "--json", "--env", "staging"], &env)
        .success()
        .json();
    let ids: Vec<String> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{listed:#}");
    assert!(ids.contains(&id), "{listed:#}");
    t.hoist_with(&["commands", "show", &id], &env)
        .success()
        .stdout_contains("configure staging")
        .stdout_contains("requested by: token:ops");
    let moved = t
        .hoist_with(
            &["commands", "reschedule", &id, "--in", "2h", "--json"],
            &env,
        )
        .success()
        .json();
    assert_eq!(moved["status"], "scheduled", "{moved:#}");
    assert_ne!(moved["execute_at"], command["execute_at"], "{moved:#}");
    t.hoist_with(&["commands", "cancel", &id], &env)
        .success()
        .stdout_contains(&format!("cancelled command {id}: configure staging"));
    // Cancelled in the store itself, and a second cancel answers the API's conflict.
    let shown = t
        .hoist(&["commands", "show", &id, "--json"])
        .success()
        .json();
    assert_eq!(shown["status"], "cancelled", "{shown:#}");
    t.hoist_with(&["commands", "cancel", &id], &env)
        .code(1)
        .stderr_contains("cancelled");
    t.hoist_with(&["commands", "show", "999"], &env)
        .code(1)
        .stderr_contains("no command with id 999");
}

#[test]
fn refusals_and_unreachable_daemons_are_said_plainly() {
    let t = two_env_test();
    let viewer = token(&t, "watcher", "viewer", &[]);
    let server = Server::start(&t, &[]);
    let (address, viewer) = remote(&server, &viewer);

    t.hoist_with(&["deploy", "staging"], &with(&address, viewer))
        .code(1)
        .stderr_contains("the token is not allowed to do this")
        .stderr_contains("hint:");
    let wrong = format!("hoist_{}", "0".repeat(64));
    t.hoist_with(&["commands", "list"], &with(&address, &wrong))
        .code(1)
        .stderr_contains("the hoist server refused the token")
        .stderr_contains("hint:");
    assert!(stored(&t).is_empty(), "nothing was stored");

    t.hoist_with(&["deploy", "staging"], &[("HOIST_SERVER", &address)])
        .code(1)
        .stderr_contains("`HOIST_TOKEN` is not")
        .stderr_contains("hoist tokens create");
    let closed = format!("http://127.0.0.1:{}", free_port());
    t.hoist_with(&["deploy", "staging"], &with(&closed, viewer))
        .code(1)
        .stderr_contains(&format!("cannot reach the hoist server at {closed}"))
        .stderr_contains("hint: start it with `hoist serve");
    // https to the daemon's own plain-http port: said, not a garbled answer.
    let tls_to_plain = format!("https://{}", server.address);
    t.hoist_with(&["commands", "list"], &with(&tls_to_plain, viewer))
        .code(1)
        .stderr_contains(&format!("the server at {tls_to_plain} does not speak TLS"))
        .stderr_contains("use `http://`");
    t.hoist_with(&["rollback", "staging"], &with("127.0.0.1:7878", viewer))
        .code(1)
        .stderr_contains("is not an `http://` or `https://` address");
    assert!(stored(&t).is_empty(), "nothing was stored");
}

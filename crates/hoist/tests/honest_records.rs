//! What hoist records and shows about commands is true: a command whose runner was killed
//! is `interrupted` as soon as anyone looks, not `running` until the next command; a
//! scheduled command refused for a broken spec says what is broken.

use std::time::Duration;

use crate::api_server::{Server, token};
use crate::harness::Test;
use crate::scheduling::{schedule, wait_until_ended};

#[test]
fn a_command_whose_runner_was_killed_is_shown_and_recorded_interrupted() {
    let t = Test::new();
    let crashed = t.hoist_with(
        &["deploy", "dev"],
        &[("HOIST_FAILPOINT", "release.after_upload")],
    );
    assert_eq!(crashed.code, -1, "hoist should have died: {crashed:?}");

    let status = t.hoist(&["status", "dev", "--json"]).success().json();
    assert_eq!(
        status["last_command"]["status"], "interrupted",
        "{status:#}"
    );
    let id = status["last_command"]["id"].to_string();
    let listed = t.hoist(&["commands", "list", "--json"]).success().json();
    assert_eq!(listed[0]["status"], "interrupted", "{listed:#}");
    let running = t
        .hoist(&["commands", "list", "--status", "running", "--json"])
        .success()
        .json();
    assert_eq!(running, serde_json::json!([]));
    let shown = t
        .hoist(&["commands", "show", &id, "--json"])
        .success()
        .json();
    assert_eq!(shown["status"], "interrupted");
    let error = shown["error"].as_str().unwrap_or_default();
    assert!(error.contains("its runner (pid"), "{shown:#}");

    let viewer = token(&t, "watcher", "viewer", &[]);
    let server = Server::start(&t, &[]);
    let answer = server.get(&format!("/api/commands/{id}"), &viewer).json();
    assert_eq!(answer["status"], "interrupted", "{answer:#}");
    drop(server);

    // Recorded once, with its event; the next deploy still continues from where it stopped.
    let events = t.hoist(&["events", "--json", "--limit", "0"]).success();
    assert_eq!(
        events.stdout.matches("\"command.interrupted\"").count(),
        1,
        "{}",
        events.stdout
    );
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().contains("v1"));
}

#[test]
fn a_scheduled_command_whose_spec_became_invalid_records_the_problems() {
    let t = Test::new();
    let _daemon = Server::start(&t, &[]);
    let (id, served) = schedule(&t, &["create", "dev", "--in", "2s"]);
    assert!(served);
    let spec = std::fs::read_to_string(t.project.join("Hoist.toml")).expect("spec");
    // The CLI reads the same store through a copy of the spec that still parses.
    t.write("valid/Hoist.toml", &spec);
    let valid = t.project.join("valid").join("Hoist.toml");
    let state = t.project.join(".hoist").join("state.db");
    t.write(
        "Hoist.toml",
        &spec.replacen("port = ", "prot = 1\nport = ", 1),
    );
    let ended = wait_until_ended(
        &t,
        id,
        &[
            "-f",
            valid.to_str().expect("a path"),
            "--state",
            state.to_str().expect("a path"),
        ],
        Duration::from_secs(30),
    );
    assert_eq!(ended["status"], "failed", "{ended:#}");
    let error = ended["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("has 1 problem: unknown key `prot` in `[service]`")
            && error.contains("Hoist.toml:"),
        "the problem and its place are recorded: {error:?}"
    );
}

//! The timeline: `hoist events` lists who did what and when (NDJSON with `--json`),
//! filters by environment, command and time, and `--follow` prints what is recorded later.

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use crate::harness::Test;

fn ndjson(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect()
}

#[test]
fn a_deploy_leaves_its_steps_outcome_actor_and_times_on_the_timeline() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let events = ndjson(&t.hoist(&["--json", "events", "dev"]).success().stdout);
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in [
        "command.started",
        "step.started",
        "step.succeeded",
        "env.state",
        "release.live",
        "command.succeeded",
    ] {
        assert!(kinds.contains(&kind), "no `{kind}` in {kinds:?}");
    }
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "oldest first: {ids:?}"
    );
    for event in &events {
        assert_eq!(event["env"], "dev");
        assert!(event["actor"].as_str().unwrap().contains('@'), "{event}");
        assert!(event["at"].as_str().unwrap().ends_with('Z'), "{event}");
    }
    let command = events.last().unwrap()["command_id"].as_i64().unwrap();

    let limited = ndjson(
        &t.hoist(&["--json", "events", "--limit", "2"])
            .success()
            .stdout,
    );
    assert_eq!(limited.len(), 2);
    assert_eq!(
        limited[1]["id"],
        events.last().unwrap()["id"],
        "the newest two"
    );
    let of_command = ndjson(
        &t.hoist(&["--json", "events", "--command", &command.to_string()])
            .success()
            .stdout,
    );
    assert!(!of_command.is_empty());
    assert!(of_command.iter().all(|e| e["command_id"] == command));
    assert!(
        t.hoist(&["--json", "events", "--since", "2099-01-01T00:00:00Z"])
            .success()
            .stdout
            .is_empty()
    );
    assert_eq!(
        ndjson(
            &t.hoist(&["--json", "events", "dev", "--since", "1h", "--limit", "0"])
                .success()
                .stdout
        )
        .len(),
        events.len()
    );
    let text = t.hoist(&["events", "dev"]).success();
    assert!(text.stdout.lines().any(|line| line.contains("command.succeeded") && line.contains(&format!("#{command}"))), "{}", text.stdout);

    t.hoist(&["events", "--since", "yesterday-ish"])
        .code(1)
        .stderr_contains("neither a time nor a duration");
    t.hoist(&["events", "nope"])
        .code(1)
        .stderr_contains("`nope`");
}

#[test]
fn follow_prints_events_recorded_after_it_started_and_ends_on_ctrl_c() {
    let t = Test::new();
    t.hoist(&["create", "dev"]).success();
    let mut follower = t.spawn(&["--json", "events", "--follow"]);
    let stdout = follower.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let wait_for = |kind: &str| loop {
        let line = received
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("`events --follow` never printed `{kind}`"));
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        if event["kind"] == kind {
            return event;
        }
    };
    // What was there is printed first; what comes later is followed.
    wait_for("command.succeeded");
    t.hoist(&[
        "webhooks",
        "add",
        "http://127.0.0.1:9/t0k3n-in-path",
        "--secret",
        "a-long-enough-secret",
    ])
    .success();
    let added = wait_for("webhook.added");
    let message = added["message"].as_str().unwrap();
    assert!(message.contains("http://127.0.0.1:9"), "{message}");
    assert!(
        !message.contains("t0k3n"),
        "the path is not shown: {message}"
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(follower.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = follower.wait().unwrap();
    assert!(status.success(), "`events --follow` ended with {status:?}");
}

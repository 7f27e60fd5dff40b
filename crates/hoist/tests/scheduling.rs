//! Scheduled commands end to end: `--at`/`--in` record them, a real `hoist serve` runs them
//! at their time (woken by the CLI, not by polling), `cancel`/`reschedule` act only while a
//! command waits, a command past its window expires, and `deploy --ttl` schedules a destroy.

use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::api_server::Server;
use crate::harness::Test;

/// `hoist commands show ID --json`.
pub fn command(t: &Test, id: i64, state: &[&str]) -> serde_json::Value {
    let mut args: Vec<&str> = state.to_vec();
    let id = id.to_string();
    args.extend(["commands", "show", &id, "--json"]);
    t.hoist(&args).success().json()
}

/// Waits until command `id` leaves `scheduled` and `running`.
#[track_caller]
pub fn wait_until_ended(t: &Test, id: i64, state: &[&str], timeout: Duration) -> serde_json::Value {
    let deadline = Instant::now() + timeout;
    loop {
        let command = command(t, id, state);
        let status = command["status"].as_str().unwrap_or_default().to_owned();
        if !matches!(status.as_str(), "scheduled" | "running") {
            return command;
        }
        assert!(
            Instant::now() < deadline,
            "command {id} still {status}: {command:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn time(value: &serde_json::Value) -> Timestamp {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"))
        .parse()
        .expect("a time")
}

/// Schedules `args` (with `--json`) and returns the command id and whether a controller serves.
pub fn schedule(t: &Test, args: &[&str]) -> (i64, bool) {
    let mut args = args.to_vec();
    args.push("--json");
    let answer = t.hoist(&args).success().json();
    let id = answer["command"]["id"].as_i64().expect("command id");
    assert_eq!(answer["command"]["status"], "scheduled", "{answer:#}");
    (id, answer["served"].as_bool().expect("served"))
}

#[test]
fn a_scheduled_deploy_runs_at_its_time_woken_by_the_cli() {
    let t = Test::new();
    let _daemon = Server::start(&t, &[]);
    let (id, served) = schedule(&t, &["deploy", "dev", "--in", "700ms"]);
    assert!(served, "the running daemon serves the store");
    assert!(t.live().is_none(), "nothing runs before its time");
    let command = wait_until_ended(&t, id, &[], Duration::from_secs(30));
    assert_eq!(command["status"], "succeeded", "{command:#}");
    let (execute_at, started_at) = (time(&command["execute_at"]), time(&command["started_at"]));
    assert!(started_at >= execute_at, "started early: {command:#}");
    // The daemon slept until nothing was due (a minute at most); only the CLI's wake-up can
    // make it see this command in time.
    let late = started_at.duration_since(execute_at);
    assert!(
        late < jiff::SignedDuration::from_secs(5),
        "started {late:?} late: {command:#}"
    );
    assert!(t.body().contains("v1"), "{}", t.body());
    assert_eq!(
        command["requested_by"], command["runner"]["owner"],
        "{command:#}"
    );
}

#[test]
fn cancel_and_reschedule_act_only_while_a_command_waits() {
    let t = Test::new();
    let _daemon = Server::start(&t, &[]);
    let (cancelled, _) = schedule(&t, &["deploy", "dev", "--in", "1h"]);
    t.hoist(&["commands", "cancel", &cancelled.to_string()])
        .success()
        .stdout_contains("cancelled command");
    t.hoist(&["commands", "cancel", &cancelled.to_string()])
        .code(1)
        .stderr_contains("no longer scheduled");

    let (moved, _) = schedule(&t, &["deploy", "dev", "--in", "1h"]);
    t.hoist(&[
        "commands",
        "reschedule",
        &moved.to_string(),
        "--in",
        "300ms",
    ])
    .success()
    .stdout_contains("rescheduled command");
    let ran = wait_until_ended(&t, moved, &[], Duration::from_secs(30));
    assert_eq!(ran["status"], "succeeded", "{ran:#}");
    t.hoist(&["commands", "reschedule", &moved.to_string(), "--in", "1h"])
        .code(1)
        .stderr_contains("it is `succeeded`, no longer scheduled");

    let cancelled = command(&t, cancelled, &[]);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled:#}");
    assert!(
        cancelled["started_at"].is_null(),
        "a cancelled command never starts: {cancelled:#}"
    );
    t.hoist(&["commands", "cancel", "999"])
        .code(1)
        .stderr_contains("no command with id 999");
}

#[test]
fn a_command_whose_controller_was_down_past_its_window_expires() {
    let t = Test::new();
    let (late, served) = schedule(
        &t,
        &["deploy", "dev", "--in", "200ms", "--start-within", "300ms"],
    );
    assert!(!served, "no daemon runs yet");
    t.hoist(&["deploy", "dev", "--in", "200ms", "--start-within", "300ms"])
        .success()
        .stderr_contains("no controller serves this store");
    let (in_time, _) = schedule(
        &t,
        &["configure", "dev", "--in", "200ms", "--start-within", "1h"],
    );
    std::thread::sleep(Duration::from_millis(1200));
    let _daemon = Server::start(&t, &[]);
    let expired = wait_until_ended(&t, late, &[], Duration::from_secs(30));
    assert_eq!(expired["status"], "expired", "{expired:#}");
    assert!(expired["started_at"].is_null(), "{expired:#}");
    assert!(t.live().is_none(), "an expired deploy never ran");
    // Still within its window when the controller came back: it runs (and fails, since
    // `dev` was never created — the lifecycle's refusal, recorded).
    let ran = wait_until_ended(&t, in_time, &[], Duration::from_secs(30));
    assert_eq!(ran["status"], "failed", "{ran:#}");
    assert!(!ran["started_at"].is_null(), "{ran:#}");
}

#[test]
fn deploy_with_ttl_schedules_the_destroy() {
    let t = Test::new();
    let _daemon = Server::start(&t, &[]);
    let outcome = t.hoist(&["deploy", "dev", "--ttl", "1s"]).success();
    assert!(
        outcome.stdout.contains("its destroy is scheduled for"),
        "{}",
        outcome.stdout
    );
    assert!(t.body().contains("v1"));
    let destroys = t
        .hoist(&["commands", "list", "--env", "dev", "--json"])
        .success()
        .json();
    let destroy = destroys
        .as_array()
        .and_then(|all| all.iter().find(|c| c["kind"] == "destroy"))
        .cloned()
        .expect("a scheduled destroy");
    let id = destroy["id"].as_i64().expect("id");
    let ended = wait_until_ended(&t, id, &[], Duration::from_secs(30));
    assert_eq!(ended["status"], "succeeded", "{ended:#}");
    assert!(t.get("/").is_err(), "the preview environment is gone");
}

#[test]
fn bad_times_are_refused_and_nothing_is_stored() {
    let t = Test::new();
    t.hoist(&["deploy", "dev", "--at", "tomorrow"])
        .code(1)
        .stderr_contains("is not a time");
    t.hoist(&["deploy", "dev", "--at", "2026-12-04T09:00"])
        .code(1)
        .stderr_contains("has no time zone");
    t.hoist(&["deploy", "dev", "--at", "2020-01-01T00:00:00Z"])
        .code(1)
        .stderr_contains("is in the past");
    t.hoist(&["deploy", "dev", "--in", "soon"])
        .code(1)
        .stderr_contains("invalid duration");
    t.hoist(&["deploy", "dev", "--start-within", "5m"])
        .code(1)
        .stderr_contains("applies only to a scheduled command");
    t.hoist(&[
        "deploy",
        "dev",
        "--in",
        "1h",
        "--at",
        "2030-01-01T00:00:00Z",
    ])
    .code(1)
    .stderr_contains("cannot be used with");
    t.hoist(&["commands", "reschedule", "1"])
        .code(1)
        .stderr_contains("needs the new time");
    let all = t.hoist(&["commands", "list", "--json"]).success().json();
    assert_eq!(all, serde_json::json!([]), "nothing stored");
    assert!(t.live().is_none());
}

#[test]
fn sigterm_lets_a_running_command_finish() {
    let t = Test::new();
    let spec = crate::harness::SPEC.replace(
        "post_upload = \"python3 -m py_compile app.py\"",
        "post_upload = \"sleep 2 && python3 -m py_compile app.py\"",
    );
    let t = t.spec(&spec);
    let mut daemon = Server::start_with(&t, &["--grace", "30s"], &[]);
    let (id, _) = schedule(&t, &["deploy", "dev", "--in", "100ms"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while command(&t, id, &[])["status"] != "running" {
        assert!(Instant::now() < deadline, "never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(daemon.terminate().code(), Some(0), "{}", daemon.log());
    let command = command(&t, id, &[]);
    assert_eq!(
        command["status"],
        "succeeded",
        "{command:#}\n{}",
        daemon.log()
    );
    assert!(daemon.log().contains("stopped"), "{}", daemon.log());
}

#[test]
fn the_daemon_delivers_webhooks_for_the_commands_it_runs() {
    let t = Test::new();
    let receiver = crate::webhook_receiver::Receiver::start("daemon-hook-secret-1", &[]);
    t.hoist(&[
        "webhooks",
        "add",
        &receiver.url("/hook"),
        "--secret",
        "daemon-hook-secret-1",
    ])
    .success();
    let _daemon = Server::start(&t, &[]);
    let (id, _) = schedule(&t, &["deploy", "dev", "--in", "100ms"]);
    let ended = wait_until_ended(&t, id, &[], Duration::from_secs(30));
    assert_eq!(ended["status"], "succeeded", "{ended:#}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let kinds: Vec<String> = receiver.received().iter().map(|r| r.kind()).collect();
        if kinds.iter().any(|k| k == "command.succeeded") {
            assert!(kinds.iter().any(|k| k == "command.scheduled"), "{kinds:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no command.succeeded delivered: {kinds:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asked through the API with a deployer token, then the token is revoked before its time:
/// the command ends `failed` with the reason, and nothing is deployed. A token that still
/// holds runs the same command.
#[test]
fn a_token_revoked_before_the_commands_time_fails_it_with_the_reason() {
    let t = crate::api_server::two_env_test();
    let kept = crate::api_server::token(&t, "kept", "deployer", &[]);
    let revoked = crate::api_server::token(&t, "leaving", "deployer", &[]);
    let server = Server::start(&t, &[]);
    let at = (Timestamp::now() + jiff::SignedDuration::from_millis(1500)).to_string();
    let ask = |token: &str, env: &str| {
        let body = format!(r#"{{"kind":"deploy","env":"{env}","at":"{at}"}}"#);
        server
            .post("/api/commands", token, &body)
            .status(202)
            .json()["command"]["id"]
            .as_i64()
            .expect("command id")
    };
    let doomed = ask(&revoked, "dev");
    let fine = ask(&kept, "staging");
    let tokens = t.hoist(&["tokens", "list", "--json"]).success().json();
    let id = tokens
        .as_array()
        .and_then(|all| all.iter().find(|token| token["name"] == "leaving"))
        .map(|token| token["id"].to_string())
        .expect("the token is listed");
    t.hoist(&["tokens", "revoke", &id]).success();

    let failed = wait_until_ended(&t, doomed, &[], Duration::from_secs(30));
    assert_eq!(failed["status"], "failed", "{failed:#}");
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("permission denied at run time") && error.contains("revoked"),
        "{failed:#}"
    );
    assert!(
        failed["steps"].as_array().is_none_or(Vec::is_empty),
        "nothing ran: {failed:#}"
    );
    assert!(t.live().is_none(), "dev was never deployed");
    let ran = wait_until_ended(&t, fine, &[], Duration::from_secs(30));
    assert_eq!(ran["status"], "succeeded", "{ran:#}\n{}", server.log());
    assert_eq!(ran["requested_by"], "token:kept", "{ran:#}");
}

#[test]
fn the_daemon_runs_a_command_with_the_spec_as_it_is_at_its_time() {
    let t = Test::new();
    let _daemon = Server::start(&t, &[]);
    // An environment added after the daemon started: only a re-read spec knows it.
    let spec = std::fs::read_to_string(t.project.join("Hoist.toml")).expect("spec");
    let extra = t.temp.path().join("hosts").join("extra");
    t.write(
        "Hoist.toml",
        &format!(
            "{spec}\n[env.extra]\nhosts = [\"local:{}\"]\n",
            extra.display()
        ),
    );
    let (id, _) = schedule(&t, &["create", "extra", "--in", "100ms"]);
    let ended = wait_until_ended(&t, id, &[], Duration::from_secs(30));
    assert_eq!(ended["status"], "succeeded", "{ended:#}");
}

#[test]
fn a_command_waits_for_a_busy_environment_until_its_expiry() {
    let spec = crate::harness::SPEC.replace(
        "post_upload = \"python3 -m py_compile app.py\"",
        "post_upload = \"sleep 3 && python3 -m py_compile app.py\"",
    );
    let t = Test::new().spec(&spec);
    let _daemon = Server::start(&t, &[]);
    let mut deploy = t.spawn(&["deploy", "dev"]);
    // Wait until the CLI's deploy holds `dev`.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !t
        .hoist(&["commands", "list", "--status", "running", "--json"])
        .success()
        .stdout
        .contains("\"deploy\"")
    {
        assert!(Instant::now() < deadline, "the deploy never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (waits, _) = schedule(
        &t,
        &["configure", "dev", "--in", "100ms", "--start-within", "1m"],
    );
    let (gives_up, _) = schedule(
        &t,
        &["configure", "dev", "--in", "100ms", "--start-within", "1s"],
    );
    assert!(deploy.wait().expect("deploy").success());
    let expired = wait_until_ended(&t, gives_up, &[], Duration::from_secs(30));
    assert_eq!(expired["status"], "expired", "{expired:#}");
    let ran = wait_until_ended(&t, waits, &[], Duration::from_secs(30));
    assert_eq!(ran["status"], "succeeded", "{ran:#}");
    assert!(
        time(&ran["started_at"]) > time(&ran["execute_at"]) + jiff::SignedDuration::from_secs(1),
        "it waited for the deploy: {ran:#}"
    );
}

/// The id, name and nice value of every thread of process `pid`.
fn thread_nice_values(pid: u32) -> Vec<(String, String, i64)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the daemon's threads");
    tasks
        .flatten()
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            let (tid, rest) = stat.split_once(" (")?;
            let (name, rest) = rest.rsplit_once(") ")?;
            // Field 19 of stat; `rest` starts at field 3.
            let nice = rest.split_whitespace().nth(16)?.parse().ok()?;
            Some((tid.to_owned(), name.to_owned(), nice))
        })
        .collect()
}

#[test]
fn the_daemon_waits_for_due_commands_at_its_own_priority() {
    // At a lowered priority the thread that wakes for a command's start comes late when the
    // machine is busy; only a command's own work on this machine yields (its thread and the
    // threads it starts), once started.
    let t = Test::new();
    let daemon = Server::start(&t, &[]);
    let own = thread_nice_values(std::process::id())
        .first()
        .map(|(_, _, nice)| *nice)
        .expect("this test's own nice value");
    let before = thread_nice_values(daemon.pid());
    assert!(before.len() > 1, "{before:?}");
    for (_, name, nice) in &before {
        assert_eq!(*nice, own, "thread {name} of hoist serve: {before:?}");
    }
    let (id, _) = schedule(&t, &["deploy", "dev", "--in", "300ms"]);
    let ended = wait_until_ended(&t, id, &[], Duration::from_secs(30));
    assert_eq!(ended["status"], "succeeded", "{ended:#}");
    let after = thread_nice_values(daemon.pid());
    for (tid, name, nice) in &after {
        if before.iter().any(|(earlier, _, _)| earlier == tid) {
            assert_eq!(*nice, own, "thread {name} after a command: {after:?}");
        }
    }
}

//! `hoist serve` logs through `tracing`: human lines by default, one JSON object per line
//! with `--log-format json`, known secret values masked either way.

use std::time::{Duration, Instant};

use crate::api_server::{Server, token};
use crate::harness::Test;

const API_TOKEN: &str = "tok-3c2b1a09f8e7d6c5";

/// A spec whose deploy fails in a hook whose command holds the value of the secret
/// `API_TOKEN` (written into the spec by mistake): the daemon logs the failed command.
fn leaky_spec() -> String {
    crate::harness::SPEC
        .replace(
            "post_upload = \"python3 -m py_compile app.py\"",
            &format!("post_upload = 'exit 1 # {API_TOKEN}'"),
        )
        .replace(
            "vars = { GREETING = \"hi\" }",
            "vars = { GREETING = \"hi\" }\nsecrets = [\"API_TOKEN\"]",
        )
}

/// Submits a deploy of `dev` now and waits until the daemon has run it.
fn deploy_through(server: &Server, deployer: &str) {
    let submitted = server.post(
        "/api/commands",
        deployer,
        r#"{"kind":"deploy","env":"dev"}"#,
    );
    assert!(submitted.status < 300, "{submitted:?}");
    let id = submitted.json()["command"]["id"].as_i64().expect("an id");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = server.get(&format!("/api/commands/{id}"), deployer).json();
        if shown["status"] == "failed" {
            return;
        }
        assert!(Instant::now() < deadline, "{shown:#}\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn with_log_format_json_every_line_is_an_event_and_secrets_are_masked() {
    let t = Test::new().spec(&leaky_spec());
    let deployer = token(&t, "ci", "deployer", &[]);
    let mut server = Server::start_with(&t, &["--log-format", "json"], &[("API_TOKEN", API_TOKEN)]);
    deploy_through(&server, &deployer);
    assert!(server.terminate().success());
    let log = server.log();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let messages: Vec<&str> = events
        .iter()
        .map(|event| {
            assert!(event["level"].is_string(), "{event}");
            assert!(event["timestamp"].is_string(), "{event}");
            event["fields"]["message"].as_str().expect("a message")
        })
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("hoist serve: listening on http://")),
        "{log}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("failed") && m.contains("exit 1 # ***")),
        "{log}"
    );
    assert!(!log.contains(API_TOKEN), "the secret is in the log:\n{log}");
}

#[test]
fn by_default_the_log_is_human_lines_with_time_and_level() {
    let t = Test::new();
    let mut server = Server::start(&t, &[]);
    assert!(server.terminate().success());
    let log = server.log();
    let listening = log
        .lines()
        .find(|line| line.contains("hoist serve: listening on http://"))
        .unwrap_or_else(|| panic!("{log}"));
    let (time, rest) = listening.split_once(' ').expect("a time first");
    assert!(time.parse::<jiff::Timestamp>().is_ok(), "{listening}");
    assert!(rest.trim_start().starts_with("INFO "), "{listening}");
    assert!(!log.trim_start().starts_with('{'), "{log}");
}

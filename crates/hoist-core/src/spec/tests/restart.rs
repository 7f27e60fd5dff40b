//! `[service.restart]` and the liveness keys of `[service.health]`.

use std::time::Duration;

use super::super::Spec;
use super::{MINIMAL, problem};
use crate::supervision::{Liveness, RestartPolicy};

fn with(extra: &str) -> String {
    MINIMAL.replace("[env.dev]", &format!("{extra}\n\n[env.dev]"))
}

const SERVICE: &str = "[service]\ncommand = \"run\"\nport = 8080\n";

#[test]
fn defaults_apply_without_the_tables() {
    let spec = Spec::parse(&with(SERVICE)).unwrap();
    let service = spec.service.unwrap();
    assert_eq!(service.restart, RestartPolicy::default());
    assert_eq!(service.liveness, Liveness::default());
}

#[test]
fn every_key_is_read() {
    let text = with(&format!(
        "{SERVICE}[service.restart]\nbackoff = \"500ms\"\nbackoff_max = \"30s\"\ncrash_loop = 3\nwindow = \"1m\"\n\
         [service.health]\npath = \"/health\"\nliveness_interval = \"0s\"\nliveness_failures = 5\n"
    ));
    let service = Spec::parse(&text).unwrap().service.unwrap();
    assert_eq!(
        service.restart,
        RestartPolicy {
            backoff: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            crash_loop: 3,
            window: Duration::from_secs(60),
        }
    );
    assert_eq!(
        service.liveness,
        Liveness {
            interval: Duration::ZERO,
            failures: 5
        }
    );
}

#[test]
fn a_cap_below_the_backoff_is_refused_at_its_line() {
    let text = with(&format!(
        "{SERVICE}[service.restart]\nbackoff = \"10s\"\nbackoff_max = \"1s\"\n"
    ));
    let (_, at) = problem(
        &text,
        "restart `backoff_max` (1s) must be at least `backoff` (10s)",
    );
    assert_eq!(at, "\"1s\"");
}

#[test]
fn bad_values_are_refused() {
    let text = with(&format!("{SERVICE}[service.restart]\ncrash_loop = 0\n"));
    problem(&text, "`crash_loop` must be an integer from 1 to 1000");
    let text = with(&format!(
        "{SERVICE}[service.restart]\nbackoff = \"0s\"\nretries = 2\n"
    ));
    problem(&text, "`backoff` must be longer than zero");
    problem(&text, "unknown key `retries` in `[service.restart]`");
    let text = with(&format!(
        "{SERVICE}[service.health]\npath = \"/\"\nliveness_failures = 0\n"
    ));
    problem(
        &text,
        "`liveness_failures` must be an integer from 1 to 1000",
    );
}

#[test]
fn a_liveness_interval_that_would_probe_back_to_back_is_refused() {
    let text = with(&format!(
        "{SERVICE}[service.health]\npath = \"/\"\nliveness_interval = \"1ms\"\n"
    ));
    let (_, at) = problem(
        &text,
        "`liveness_interval` (1ms) is too short: probes would run back to back",
    );
    assert_eq!(at, "\"1ms\"");
    for fine in ["0s", "100ms", "10s"] {
        let text = with(&format!(
            "{SERVICE}[service.health]\npath = \"/\"\nliveness_interval = \"{fine}\"\n"
        ));
        assert!(Spec::parse(&text).is_ok(), "{fine}");
    }
}

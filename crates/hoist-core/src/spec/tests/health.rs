//! `[service.health]` of each kind: what is accepted, what it means, what is refused and where.

use std::time::Duration;

use super::super::{HealthCheck, StatusRange};
use super::{MINIMAL, parsed, problem};

fn health(lines: &str) -> String {
    MINIMAL.replace(
        "[env.dev]",
        &format!("[service]\ncommand = \"x\"\nport = 8080\n[service.health]\n{lines}\n\n[env.dev]"),
    )
}

fn check(lines: &str) -> HealthCheck {
    let spec = parsed(&health(lines));
    match spec.service.and_then(|service| service.health) {
        Some(health) => health.check,
        None => panic!("no health check"),
    }
}

#[test]
fn http_takes_a_range_a_body_and_a_host() {
    let lines = "kind = \"http\"\npath = \"/health\"\nexpect_status = \"200-399\"\n\
                 body_contains = \"ok\"\nhost = \"app.example:8080\"";
    assert_eq!(
        check(lines),
        HealthCheck::Http {
            path: "/health".to_owned(),
            expect: StatusRange::new(200, 399).unwrap(),
            body_contains: Some("ok".to_owned()),
            host: Some("app.example:8080".to_owned()),
        }
    );
}

#[test]
fn tcp_and_command_need_no_path() {
    assert_eq!(check("kind = \"tcp\""), HealthCheck::Tcp);
    assert_eq!(
        check("kind = \"command\"\ncommand = \"./check.sh\""),
        HealthCheck::Command {
            command: "./check.sh".to_owned()
        }
    );
}

#[test]
fn initial_delay_is_read_and_may_be_zero() {
    let spec = parsed(&health("kind = \"tcp\"\ninitial_delay = \"3s\""));
    let delay = spec.service.and_then(|s| s.health).map(|h| h.initial_delay);
    assert_eq!(delay, Some(Duration::from_secs(3)));
    let spec = parsed(&health("kind = \"tcp\"\ninitial_delay = \"0s\""));
    let delay = spec.service.and_then(|s| s.health).map(|h| h.initial_delay);
    assert_eq!(delay, Some(Duration::ZERO));
}

#[test]
fn bad_health_checks_are_refused_where_written() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "kind = \"tpc\"",
            "health `kind` must be `\"http\"`, `\"tcp\"` or `\"command\"`",
            "\"tpc\"",
        ),
        (
            "kind = \"tcp\"\npath = \"/\"",
            "health `path` does not apply to `kind = \"tcp\"`",
            "path",
        ),
        (
            "kind = \"command\"\ncommand = \"true\"\nexpect_status = 200",
            "health `expect_status` does not apply to `kind = \"command\"`",
            "expect_status",
        ),
        (
            "path = \"/\"\ncommand = \"true\"",
            "health `command` does not apply to `kind = \"http\"`",
            "command",
        ),
        (
            "kind = \"command\"\ncommand = \"  \"",
            "health `command` must not be empty",
            "\"  \"",
        ),
        (
            "path = \"/\"\nexpect_status = \"399-200\"",
            "`expect_status` `399-200` must be a range like `\"200-399\"`",
            "\"399-200\"",
        ),
        (
            "path = \"/\"\nexpect_status = \"200-600\"",
            "`expect_status` `200-600` must be a range like `\"200-399\"`",
            "\"200-600\"",
        ),
        (
            "path = \"/\"\nexpect_status = 600",
            "`expect_status` must be an integer from 100 to 599",
            "600",
        ),
        (
            "path = \"/\"\nhost = \"a b\"",
            "health `host` `a b` must be a host name with an optional port",
            "\"a b\"",
        ),
        (
            "path = \"/\"\nhost = \"a\\r\\nX: y\"",
            "health `host` `a\\r\\nX: y` must be a host name with an optional port",
            "\"a\\r\\nX: y\"",
        ),
        (
            "kind = \"tcp\"\ninitial_delay = \"soon\"",
            "`initial_delay` must be a duration like `\"10s\"`, not `soon`",
            "\"soon\"",
        ),
    ];
    for (lines, message, expected_at) in cases {
        let text = health(lines);
        let (_, at) = problem(&text, message);
        assert_eq!(at, *expected_at, "{message}");
    }
}

#[test]
fn required_keys_are_reported_at_the_table() {
    let text = health("kind = \"command\"");
    let (_, at) = problem(&text, "missing `command` in `[service.health]`");
    assert_eq!(at, "[service.health]");
    let text = health("kind = \"http\"");
    let (_, at) = problem(&text, "missing `path` in `[service.health]`");
    assert_eq!(at, "[service.health]");
}

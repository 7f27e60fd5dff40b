//! Webhooks end to end: a deploy's events arrive signed at a real receiver, a receiver that
//! fails is retried on the backoff schedule, environment filters hold, secrets appear in no
//! body, no event and no listing, and bad input stores nothing.

use std::time::Duration;

use crate::harness::Test;
use crate::webhook_receiver::Receiver;

const HOOK_SECRET: &str = "hook-secret-4c1d9e7f2a";
const APP_SECRET: &str = "app-token-8b3e5f0c6d";
/// `HOIST_SECRET_KEY` for the PostgreSQL store (64 hex digits).
pub const SHARED_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// The test spec with a secret for `dev` and a second environment, `staging`.
fn with_secret_and_staging(t: Test) -> Test {
    let spec = std::fs::read_to_string(t.project.join("Hoist.toml")).unwrap();
    let staging_root = t.temp.path().join("hosts").join("staging");
    let spec = spec.replacen(
        "vars = { GREETING = \"hi\" }",
        &format!(
            "vars = {{ GREETING = \"hi\" }}\nsecrets = [\"TOKEN\"]\n\n[env.staging]\nhosts = [\"local:{}\"]",
            staging_root.display()
        ),
        1,
    );
    t.write("Hoist.toml", &spec);
    t
}

#[test]
fn a_deploy_is_delivered_signed_to_the_hooks_that_want_it_and_carries_no_secret() {
    let t = with_secret_and_staging(Test::new());
    let everything = Receiver::start(HOOK_SECRET, &[]);
    let staging_only = Receiver::start(HOOK_SECRET, &[]);
    let commands_only = Receiver::start(HOOK_SECRET, &[]);
    t.hoist(&[
        "webhooks",
        "add",
        &everything.url("/all"),
        "--secret",
        HOOK_SECRET,
    ])
    .success();
    t.hoist(&[
        "webhooks",
        "add",
        &staging_only.url("/staging"),
        "--env",
        "staging",
        "--secret",
        HOOK_SECRET,
    ])
    .success();
    t.hoist_with(
        &[
            "webhooks",
            "add",
            &commands_only.url("/commands"),
            "--env",
            "dev",
            "--kind",
            "command",
        ],
        &[("HOIST_WEBHOOK_SECRET", HOOK_SECRET)],
    )
    .success();

    t.hoist_with(&["deploy", "dev"], &[("TOKEN", APP_SECRET)])
        .success();
    let report = t
        .hoist(&["--json", "webhooks", "deliver", "--once"])
        .success()
        .json();
    assert_eq!(report["retrying"], 0, "{report}");
    assert_eq!(report["failed"], 0, "{report}");

    let all = everything.received();
    let kinds: Vec<String> = all.iter().map(|r| r.kind()).collect();
    for kind in [
        "command.started",
        "step.started",
        "step.succeeded",
        "env.state",
        "command.succeeded",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "no `{kind}` delivered: {kinds:?}"
        );
    }
    for request in &all {
        assert!(request.signed, "a bad signature: {request:#?}");
        assert_eq!(request.path, "/all");
        let body = request.json();
        assert_eq!(request.headers["x-hoist-event"], body["event"]["kind"]);
        assert_eq!(
            request.headers["x-hoist-delivery"],
            body["delivery"].to_string(),
            "the delivery id header"
        );
        for field in ["id", "at", "kind", "message", "actor"] {
            assert!(!body["event"][field].is_null(), "no `{field}`: {body}");
        }
    }
    assert_eq!(
        all.iter()
            .filter(|r| r.kind() == "command.succeeded")
            .count(),
        1,
        "each event once"
    );
    let succeeded = all
        .iter()
        .find(|r| r.kind() == "command.succeeded")
        .unwrap()
        .json();
    assert_eq!(succeeded["event"]["env"], "dev");
    assert!(succeeded["event"]["command_id"].is_i64());

    let staging = staging_only.received();
    assert!(
        staging
            .iter()
            .all(|r| r.json()["event"]["env"] == "staging"),
        "a staging hook got another environment's event: {staging:#?}"
    );
    let commands = commands_only.received();
    assert!(!commands.is_empty());
    assert!(
        commands
            .iter()
            .all(|r| r.kind().starts_with("command.") && r.signed),
        "a `command` hook got {:?}",
        commands.iter().map(|r| r.kind()).collect::<Vec<_>>()
    );

    // The secrets are nowhere: not in a body, the timeline, a listing or the deliveries.
    for request in all.iter().chain(&staging).chain(&commands) {
        assert!(!request.body.contains(HOOK_SECRET) && !request.body.contains(APP_SECRET));
    }
    for args in [
        &["--json", "events"][..],
        &["events", "--limit", "0"],
        &["webhooks", "list"],
        &["--json", "webhooks", "list"],
        &["--json", "webhooks", "deliveries", "--limit", "0"],
    ] {
        let out = t.hoist(args).success();
        for secret in [HOOK_SECRET, APP_SECRET] {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "`hoist {args:?}` shows a secret:\n{}",
                out.stdout
            );
        }
    }
    let listed = t.hoist(&["--json", "webhooks", "list"]).success().json();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert!(listed[0]["secret"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn a_failing_receiver_is_retried_on_the_backoff_schedule_until_it_answers() {
    let t = Test::new();
    let added = t
        .hoist(&["--json", "webhooks", "add", "http://127.0.0.1:9/unused"])
        .success()
        .json();
    let secret = added["generated_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32, "{added}");
    let listed = t.hoist(&["webhooks", "list"]).success();
    assert!(!listed.stdout.contains(&secret), "{}", listed.stdout);
    t.hoist(&["webhooks", "remove", &added["webhook"]["id"].to_string()])
        .success();

    let receiver = Receiver::start(&secret, &[500]);
    let added = t
        .hoist_with(
            &["--json", "webhooks", "add", &receiver.url("/flaky")],
            &[("HOIST_WEBHOOK_SECRET", &secret)],
        )
        .success()
        .json();
    assert!(
        added["generated_secret"].is_null(),
        "a given secret is not echoed: {added}"
    );
    let hook = added["webhook"]["id"].to_string();

    // Adding a hook records `webhook.added`: its first delivery.
    let first = t
        .hoist(&["--json", "webhooks", "deliver", "--once"])
        .success()
        .json();
    assert_eq!(
        (first["delivered"].as_u64(), first["retrying"].as_u64()),
        (Some(0), Some(1)),
        "{first}"
    );
    let deliveries = t
        .hoist(&["--json", "webhooks", "deliveries", "--hook", &hook])
        .success()
        .json();
    assert_eq!(deliveries.as_array().unwrap().len(), 1, "{deliveries}");
    assert_eq!(deliveries[0]["status"], "pending");
    assert_eq!(deliveries[0]["attempts"], 1);
    assert_eq!(deliveries[0]["last_status"], 500);

    // Not due again for a second.
    let early = t
        .hoist(&["--json", "webhooks", "deliver", "--once"])
        .success()
        .json();
    assert_eq!(early["delivered"], 0, "{early}");
    assert_eq!(early["retrying"], 0, "{early}");
    std::thread::sleep(Duration::from_millis(1_200));
    let second = t
        .hoist(&["--json", "webhooks", "deliver", "--once"])
        .success()
        .json();
    assert_eq!(second["delivered"], 1, "{second}");

    let deliveries = t
        .hoist(&["--json", "webhooks", "deliveries", "--hook", &hook])
        .success()
        .json();
    assert_eq!(deliveries[0]["status"], "delivered");
    assert_eq!(deliveries[0]["attempts"], 2);
    assert_eq!(deliveries[0]["last_status"], 200);
    assert!(deliveries[0]["last_error"].is_null());
    let received = receiver.received();
    assert_eq!(
        received.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 200]
    );
    assert!(
        received
            .iter()
            .all(|r| r.signed && r.kind() == "webhook.added")
    );
    assert_eq!(
        received[0].headers["x-hoist-delivery"], received[1].headers["x-hoist-delivery"],
        "a retry is the same delivery"
    );
}

#[test]
fn the_sender_in_the_foreground_delivers_until_interrupted() {
    let t = Test::new();
    let receiver = Receiver::start(HOOK_SECRET, &[]);
    let mut sender = t.spawn(&["webhooks", "deliver"]);
    t.hoist(&[
        "webhooks",
        "add",
        &receiver.url("/"),
        "--secret",
        HOOK_SECRET,
    ])
    .success();
    let received = receiver.wait_for(1, Duration::from_secs(10));
    assert!(received[0].signed);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(sender.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = sender.wait().unwrap();
    assert!(status.success(), "the sender ended with {status:?}");
}

#[test]
fn bad_webhook_input_is_refused_and_stores_nothing() {
    let t = Test::new();
    t.hoist(&["webhooks", "add", "ftp://hooks.example/x"])
        .code(1)
        .stderr_contains("not an http or https URL")
        .stderr_contains("hint:");
    for url in [
        "hooks.example/x",
        "http://",
        "http://host:99999/",
        "http://user:pw@host/",
    ] {
        t.hoist(&["webhooks", "add", url]).code(1);
    }
    t.hoist(&[
        "webhooks",
        "add",
        "http://127.0.0.1:9/",
        "--secret",
        "short",
    ])
    .code(1)
    .stderr_contains("16 characters");
    t.hoist(&[
        "webhooks",
        "add",
        "http://127.0.0.1:9/",
        "--kind",
        "Bad Kind!",
    ])
    .code(1)
    .stderr_contains("not an event kind");
    t.hoist(&["webhooks", "add", "http://127.0.0.1:9/", "--env", "nope"])
        .code(1)
        .stderr_contains("`nope`");
    t.hoist(&["webhooks", "remove", "42"])
        .code(1)
        .stderr_contains("there is no webhook 42")
        .stderr_contains("hint:");
    t.hoist(&["webhooks", "deliveries", "--hook", "42"])
        .code(1)
        .stderr_contains("there is no webhook 42");
    assert_eq!(
        t.hoist(&["--json", "webhooks", "list"]).success().json(),
        serde_json::json!([])
    );
    let events = t.hoist(&["--json", "events"]).success();
    assert!(!events.stdout.contains("webhook."), "{}", events.stdout);
}

#[test]
fn a_postgres_store_delivers_a_deploy_the_same_way() {
    let url = crate::postgres_server::TestServer::shared().fresh_database();
    let t = Test::new();
    // Every process sharing a PostgreSQL store is given the key its webhook secrets are
    // sealed with.
    let state = [
        ("HOIST_STATE", url.as_str()),
        ("HOIST_SECRET_KEY", SHARED_KEY),
    ];
    let receiver = Receiver::start(HOOK_SECRET, &[503]);
    t.hoist_with(
        &[
            "webhooks",
            "add",
            &receiver.url("/pg"),
            "--env",
            "dev",
            "--kind",
            "command.succeeded",
        ],
        &[
            ("HOIST_STATE", url.as_str()),
            ("HOIST_SECRET_KEY", SHARED_KEY),
            ("HOIST_WEBHOOK_SECRET", HOOK_SECRET),
        ],
    )
    .success();
    t.hoist_with(&["deploy", "dev"], &state).success();
    let first = t
        .hoist_with(&["--json", "webhooks", "deliver", "--once"], &state)
        .success()
        .json();
    assert_eq!(first["retrying"], 1, "{first}");
    std::thread::sleep(Duration::from_millis(1_200));
    let second = t
        .hoist_with(&["--json", "webhooks", "deliver", "--once"], &state)
        .success()
        .json();
    assert_eq!(second["delivered"], 1, "{second}");
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert!(
        received
            .iter()
            .all(|r| r.signed && r.kind() == "command.succeeded")
    );
    assert!(
        !t.project.join(".hoist").join("state.db").exists(),
        "nothing recorded in a SQLite file"
    );
}

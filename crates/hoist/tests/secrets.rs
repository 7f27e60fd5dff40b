//! Secrets stay secret: a value a hook prints is `***` in the store's files, every answer
//! and every webhook body; controller-side commands see only the variables they need; the
//! state store is private; webhook signing secrets are sealed at rest.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use crate::api_server::{Server, token};
use crate::harness::Test;
use crate::webhook_receiver::Receiver;

const API_TOKEN: &str = "tok-9f8e7d6c5b4a3f2e";
const HOOK_SECRET: &str = "hook-secret-5e4d3c2b1a09";

/// Whether `needle` is anywhere in the file's bytes (absent file: no).
fn file_holds(path: &Path, needle: &str) -> bool {
    std::fs::read(path)
        .unwrap_or_default()
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// The store's files: the database, its WAL and shared memory.
fn store_files(t: &Test) -> Vec<std::path::PathBuf> {
    let dir = t.project.join(".hoist");
    ["state.db", "state.db-wal", "state.db-shm"]
        .iter()
        .map(|name| dir.join(name))
        .collect()
}

#[track_caller]
fn assert_store_files_lack(t: &Test, needle: &str) {
    for file in store_files(t) {
        assert!(
            !file_holds(&file, needle),
            "`{}` holds `{needle}`",
            file.display()
        );
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_secret_a_hook_prints_is_masked_in_the_store_answers_and_webhook_bodies() {
    let spec = crate::harness::SPEC
        .replace(
            "post_upload = \"python3 -m py_compile app.py\"",
            "post_upload = 'echo \"token=$API_TOKEN\" >&2; exit 1'",
        )
        .replace(
            "vars = { GREETING = \"hi\" }",
            "vars = { GREETING = \"hi\" }\nsecrets = [\"API_TOKEN\"]",
        );
    let t = Test::new().spec(&spec);
    let receiver = Receiver::start(HOOK_SECRET, &[]);
    t.hoist(&[
        "webhooks",
        "add",
        &receiver.url("/all"),
        "--secret",
        HOOK_SECRET,
    ])
    .success();
    let viewer = token(&t, "watcher", "viewer", &[]);
    let server = Server::start(&t, &[]);

    // The hook runs on this machine with the secret in its environment, prints it, fails.
    let failed = t
        .hoist_with(&["deploy", "dev"], &[("API_TOKEN", API_TOKEN)])
        .code(1);
    assert!(
        !failed.stderr.contains(API_TOKEN) && !failed.stdout.contains(API_TOKEN),
        "hoist printed the secret:\n{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("token=***"),
        "the hook's output is shown masked:\n{}",
        failed.stderr
    );

    // Everything below runs without the secret in hoist's environment: what it shows is
    // what was stored.
    let commands = t.hoist(&["commands", "list", "--json"]).success().json();
    let id = commands[0]["id"]
        .as_i64()
        .expect("a command id")
        .to_string();
    let shown = t.hoist(&["commands", "show", &id, "--json"]).success();
    assert!(
        shown.stdout.contains("token=***"),
        "the step log keeps the masked output: {}",
        shown.stdout
    );
    for args in [
        &["commands", "show", &id, "--json"][..],
        &["commands", "list", "--json"],
        &["events", "--json", "--limit", "0"],
        &["status", "dev", "--json"],
    ] {
        let out = t.hoist(args).success();
        assert!(
            !out.stdout.contains(API_TOKEN),
            "`hoist {args:?}` shows the secret:\n{}",
            out.stdout
        );
    }
    let path = format!("/api/commands/{id}");
    for path in [
        "/api/commands",
        path.as_str(),
        "/api/events",
        "/api/environments",
    ] {
        let reply = server.get(path, &viewer);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert!(
            !reply.body.contains(API_TOKEN),
            "{path} answers the secret to a viewer:\n{}",
            reply.body
        );
    }
    assert!(server.get(&path, &viewer).body.contains("token=***"));

    let report = t
        .hoist(&["--json", "webhooks", "deliver", "--once"])
        .success()
        .json();
    assert_eq!(report["failed"], 0, "{report}");
    // `hoist serve` delivers too: a delivery it took before `deliver --once` looked may still
    // be on its way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut bodies = receiver.received();
    while !bodies.iter().any(|r| r.kind() == "step.failed") && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
        bodies = receiver.received();
    }
    assert!(
        bodies.iter().any(|r| r.kind() == "step.failed"),
        "the failure was delivered: {bodies:#?}"
    );
    for body in &bodies {
        assert!(body.signed && !body.body.contains(API_TOKEN), "{body:#?}");
    }
    // While `hoist serve` holds the store open, its WAL and shared memory exist too.
    assert_store_files_lack(&t, API_TOKEN);
    drop(server);
    assert_store_files_lack(&t, API_TOKEN);
}

#[test]
fn controller_side_commands_see_only_the_basics_and_what_the_spec_passes() {
    let spec = crate::harness::SPEC.replace(
        "[build]\n",
        "[build]\nsteps = ['echo \"aws=${AWS_SECRET_ACCESS_KEY:-unset} npm=${NPM_TOKEN:-unset} path=${PATH:+set} home=${HOME:+set}\" > build-env.txt']\npass_env = [\"NPM_TOKEN\"]\n",
    ) + "\n[env.dev.provision]\ncommand = 'echo \"aws=${AWS_SECRET_ACCESS_KEY:-unset} npm=${NPM_TOKEN:-unset} env=$HOIST_ENV\" > provision-env.txt; echo \"[]\"'\npass_env = [\"AWS_SECRET_ACCESS_KEY\"]\n";
    let t = Test::new().spec(&spec);
    let controller = [
        ("AWS_SECRET_ACCESS_KEY", "aws-controller-only-0123"),
        ("NPM_TOKEN", "npm-passed-4567"),
    ];
    t.hoist_with(&["spec", "check"], &[]).success();
    t.hoist_with(&["deploy", "dev"], &controller).success();
    let read = |name: &str| {
        std::fs::read_to_string(t.project.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .trim()
            .to_owned()
    };
    assert_eq!(
        read("build-env.txt"),
        "aws=unset npm=npm-passed-4567 path=set home=set"
    );
    assert_eq!(
        read("provision-env.txt"),
        "aws=aws-controller-only-0123 npm=unset env=dev"
    );
}

#[test]
fn the_state_store_and_its_key_are_private_and_tightened_when_opened() {
    let t = Test::new();
    t.hoist(&["create", "dev"]).success();
    let dir = t.project.join(".hoist");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("state.db")), 0o600);

    // A store made before: world-readable files in a world-readable directory.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.join("state.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    // A long-running reader keeps the WAL and shared memory in place while they are checked.
    let mut follower = t.spawn(&["events", "--follow"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !dir.join("state.db-shm").exists() || !dir.join("state.db-wal").exists() {
        assert!(std::time::Instant::now() < deadline, "no WAL appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    t.hoist(&[
        "webhooks",
        "add",
        "http://127.0.0.1:9/hook",
        "--secret",
        HOOK_SECRET,
    ])
    .success();
    for (path, expected) in [
        (dir.clone(), 0o700),
        (dir.join("state.db"), 0o600),
        (dir.join("state.db-wal"), 0o600),
        (dir.join("state.db-shm"), 0o600),
        (dir.join("state.db.key"), 0o600),
    ] {
        assert_eq!(mode(&path), expected, "{}", path.display());
    }
    let _ = follower.kill();
    let _ = follower.wait();
}

#[test]
fn webhook_secrets_are_sealed_at_rest_and_old_clear_ones_are_sealed_on_open() {
    let t = Test::new();
    let receiver = Receiver::start(HOOK_SECRET, &[]);
    t.hoist(&[
        "webhooks",
        "add",
        &receiver.url("/new"),
        "--secret",
        HOOK_SECRET,
    ])
    .success();
    assert_store_files_lack(&t, HOOK_SECRET);
    assert!(t.project.join(".hoist").join("state.db.key").is_file());

    // A hook an older hoist stored with its secret in clear.
    let old_secret = "old-clear-secret-77665544";
    let old = Receiver::start(old_secret, &[]);
    rusqlite::Connection::open(t.project.join(".hoist").join("state.db"))
        .unwrap()
        .execute(
            "INSERT INTO webhooks (url, env, kinds, secret, created_by, created_at, after_event_id) \
             VALUES (?1, NULL, '[]', ?2, 'someone', 0, 0)",
            [old.url("/old"), old_secret.to_owned()],
        )
        .unwrap();
    let listed = t.hoist(&["--json", "webhooks", "list"]).success();
    assert!(!listed.stdout.contains(old_secret), "{}", listed.stdout);
    assert_store_files_lack(&t, old_secret);

    // Both still sign: each receiver checks the signature with its own secret.
    t.hoist(&["--json", "webhooks", "deliver", "--once"])
        .success();
    let new_bodies = receiver.received();
    let old_bodies = old.received();
    assert!(!new_bodies.is_empty() && new_bodies.iter().all(|r| r.signed));
    assert!(!old_bodies.is_empty() && old_bodies.iter().all(|r| r.signed));
}

#[test]
fn a_postgres_store_without_the_shared_key_refuses_webhooks_with_a_hint() {
    let url = crate::postgres_server::TestServer::shared().fresh_database();
    let t = Test::new();
    t.hoist_with(
        &[
            "webhooks",
            "add",
            "http://127.0.0.1:9/pg",
            "--secret",
            HOOK_SECRET,
        ],
        &[("HOIST_STATE", url.as_str())],
    )
    .code(1)
    .stderr_contains("HOIST_SECRET_KEY")
    .stderr_contains("hint:");
    let keyed = [
        ("HOIST_STATE", url.as_str()),
        ("HOIST_SECRET_KEY", crate::webhooks::SHARED_KEY),
    ];
    t.hoist_with(
        &[
            "webhooks",
            "add",
            "http://127.0.0.1:9/pg",
            "--secret",
            HOOK_SECRET,
        ],
        &keyed,
    )
    .success();
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let stored: String = client
        .query_one("SELECT secret FROM webhooks", &[])
        .unwrap()
        .get(0);
    assert!(
        stored.starts_with("sealed:v1:") && !stored.contains(HOOK_SECRET),
        "{stored}"
    );
    t.hoist_with(&["webhooks", "list"], &keyed).success();
    t.hoist_with(
        &["webhooks", "deliver", "--once"],
        &[("HOIST_STATE", url.as_str())],
    )
    .code(1)
    .stderr_contains("HOIST_SECRET_KEY");
}

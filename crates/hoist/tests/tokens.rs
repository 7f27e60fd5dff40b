//! `hoist tokens create|list|revoke`: the secret is printed once and stored only hashed.

use crate::harness::Test;

#[test]
fn tokens_are_created_listed_without_secrets_and_revoked() {
    let t = Test::new();
    let created = t
        .hoist(&[
            "tokens", "create", "ci", "--role", "deployer", "--env", "dev", "--json",
        ])
        .success()
        .json();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("hoist_") && secret.len() == 70,
        "{secret}"
    );
    assert_eq!(created["token"]["role"], "deployer");
    assert_eq!(created["token"]["envs"], serde_json::json!(["dev"]));

    let text = t
        .hoist(&["tokens", "create", "ops", "--role", "admin"])
        .success();
    assert!(
        text.stdout.contains("hoist_"),
        "the secret is printed: {}",
        text.stdout
    );
    assert!(text.stdout.contains("not shown again"), "{}", text.stdout);

    let listed = t.hoist(&["tokens", "list"]).success();
    assert!(
        listed.stdout.contains("ci") && listed.stdout.contains("deployer"),
        "{}",
        listed.stdout
    );
    let listed_json = t.hoist(&["tokens", "list", "--json"]).success();
    let hash = hoist::ops::tokens::hash_secret(&secret);
    for output in [&listed.stdout, &listed_json.stdout] {
        assert!(
            !output.contains(&secret) && !output.contains(&hash),
            "{output}"
        );
    }
    // The store holds the hash, never the secret.
    let db = std::fs::read(t.project.join(".hoist/state.db")).unwrap();
    let db = String::from_utf8_lossy(&db);
    assert!(
        !db.contains(&secret[6..]),
        "the secret is in the store file"
    );

    let id = created["token"]["id"].to_string();
    let revoked = t
        .hoist(&["tokens", "revoke", &id, "--json"])
        .success()
        .json();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    t.hoist(&["tokens", "revoke", &id])
        .code(1)
        .stderr_contains("already revoked");
    t.hoist(&["tokens", "revoke", "999"])
        .code(1)
        .stderr_contains("no token with id 999");
    // A revoked token's name is free again; a live one's is not.
    t.hoist(&["tokens", "create", "ci", "--role", "viewer"])
        .success();
    t.hoist(&["tokens", "create", "ops", "--role", "viewer"])
        .code(1)
        .stderr_contains("a token named `ops` already exists");
}

#[test]
fn bad_token_input_is_refused_before_anything_is_written() {
    let t = Test::new();
    t.hoist(&["tokens", "create", "CI Bot", "--role", "admin"])
        .code(1)
        .stderr_contains("invalid token name");
    t.hoist(&["tokens", "create", "ci", "--role", "root"])
        .code(1)
        .stderr_contains("unknown role `root`");
    t.hoist(&["tokens", "create", "ci", "--role", "admin", "--env", "../x"])
        .code(1)
        .stderr_contains("invalid environment name");
    assert!(
        !t.project.join(".hoist").exists(),
        "no state store was created"
    );
    t.hoist(&["tokens", "create", "ci", "--role", "admin", "--env", "prod"])
        .code(1)
        .stderr_contains("`prod` is not in the spec");
    let listed = t.hoist(&["tokens", "list", "--json"]).success().json();
    assert_eq!(listed, serde_json::json!([]));
}

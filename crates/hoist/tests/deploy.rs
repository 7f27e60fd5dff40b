//! The whole lifecycle with the real example service: deploy, change and deploy again,
//! no-op deploy, rollback, remove, prune, destroy.

use crate::harness::Test;

#[test]
fn deploy_from_nothing_runs_every_step_and_serves() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"])
        .success()
        .stderr_contains("[1/5] create")
        .stderr_contains("[5/5] run")
        .stdout_contains(&format!("http://127.0.0.1:{}/", t.port));
    assert!(t.body().contains("v1"), "{}", t.body());
    t.assert_invariants();
    let status = t.hoist(&["status", "dev", "--json"]).success().json();
    assert_eq!(status["state"], "running");
    assert_eq!(status["hosts"][0]["instance"]["alive"], true);
}

#[test]
fn deploy_from_created_runs_four_steps() {
    let t = Test::new();
    t.hoist(&["create", "dev"]).success();
    t.hoist(&["deploy", "dev"])
        .success()
        .stderr_contains("[1/4] provision")
        .stderr_contains("[4/4] run");
}

#[test]
fn plumbing_commands_walk_the_lifecycle() {
    let t = Test::new();
    for (verb, state) in [
        ("create", "created"),
        ("provision", "provisioned"),
        ("configure", "configured"),
        ("release", "released"),
        ("run", "running"),
    ] {
        let outcome = t.hoist(&[verb, "dev", "--json"]).success().json();
        assert_eq!(outcome["state"], state, "after {verb}");
    }
    assert!(t.body().contains("v1"));
    // Out of order: `run` again is fine, `create` again is refused with a hint.
    t.hoist(&["create", "dev"])
        .code(1)
        .stderr_contains("already exists")
        .stderr_contains("hint:");
}

#[test]
fn changed_tree_releases_and_runs_and_unchanged_does_nothing() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().expect("live after first deploy");

    t.hoist(&["deploy", "dev"])
        .success()
        .stdout_contains("nothing to deploy");
    assert_eq!(
        t.live().as_deref(),
        Some(first.as_str()),
        "no-op deploy must not switch"
    );

    t.write("message.txt", "v2\n");
    let outcome = t.hoist(&["deploy", "dev", "--json"]).success().json();
    assert_eq!(outcome["steps"], serde_json::json!(["release", "run"]));
    let second = t.live().expect("live after second deploy");
    assert_ne!(first, second);
    assert!(t.body().contains("v2"));

    // Unchanged files are hard links shared with the previous release; the changed one is not.
    let inode = |release: &str, file: &str| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(t.root.join("releases").join(release).join(file))
            .unwrap()
            .ino()
    };
    assert_eq!(inode(&first, "app.py"), inode(&second, "app.py"));
    assert_ne!(inode(&first, "message.txt"), inode(&second, "message.txt"));
    let old =
        std::fs::read_to_string(t.root.join("releases").join(&first).join("message.txt")).unwrap();
    assert_eq!(old, "v1\n", "the old release must not change");
    t.assert_invariants();
}

#[test]
fn rollback_serves_the_previous_release_and_to_picks_one() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();
    let second = t.live().unwrap();

    t.hoist(&["rollback", "dev"])
        .success()
        .stdout_contains(&first);
    assert_eq!(t.live().as_deref(), Some(first.as_str()));
    assert!(t.body().contains("v1"));
    t.assert_invariants();

    t.hoist(&["rollback", "dev", "--to", &second]).success();
    assert!(t.body().contains("v2"));
    t.hoist(&["check", "dev"]).success().stdout_contains("ok");
}

#[test]
fn releases_list_remove_and_prune() {
    let t = Test::new();
    let mut ids = Vec::new();
    for version in 1..=5 {
        t.write("message.txt", &format!("v{version}\n"));
        t.hoist(&["deploy", "dev"]).success();
        ids.push(t.live().unwrap());
    }
    // keep_releases = 3: deploy prunes as it goes.
    let rows = t
        .hoist(&["releases", "list", "dev", "--json"])
        .success()
        .json();
    let listed: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        ids[2..].iter().map(String::as_str).collect::<Vec<_>>()
    );

    t.hoist(&["releases", "remove", "dev", &ids[4]])
        .code(1)
        .stderr_contains("is live");
    t.hoist(&["releases", "remove", "dev", &ids[2]]).success();
    assert!(!t.root.join("releases").join(&ids[2]).exists());
    t.assert_invariants();

    t.hoist(&["releases", "prune", "dev", "--keep", "1"])
        .success();
    // live and its previous are never pruned.
    assert!(t.root.join("releases").join(&ids[4]).exists());
    assert!(t.root.join("releases").join(&ids[3]).exists());
    t.assert_invariants();
}

#[test]
fn destroy_stops_the_service_and_removes_the_root() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    t.hoist(&["destroy", "dev"])
        .code(1)
        .stderr_contains("--yes");
    assert!(t.get("/").is_ok(), "refused destroy must not stop anything");
    t.hoist(&["destroy", "dev", "--yes"]).success();
    assert!(t.get("/").is_err(), "service still answers after destroy");
    assert!(!t.root.exists());
    let listed = t.hoist(&["list", "--json"]).success().json();
    assert_eq!(listed[0]["state"], "destroyed");
    // And it can come back.
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().contains("v1"));
}

#[test]
fn configure_writes_secrets_only_to_the_host() {
    let secret = "s3cr3t-value-7f9a";
    let t = Test::new();
    let spec = std::fs::read_to_string(t.project.join("Hoist.toml"))
        .unwrap()
        .replace(
            "vars = { GREETING = \"hi\" }",
            "vars = { GREETING = \"hi\" }\nsecrets = [\"SECRET_TOKEN\"]",
        );
    t.write("Hoist.toml", &spec);
    t.hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains("secret `SECRET_TOKEN`");
    let deployed = t
        .hoist_with(&["deploy", "dev", "--json"], &[("SECRET_TOKEN", secret)])
        .success();
    assert!(!deployed.stdout.contains(secret) && !deployed.stderr.contains(secret));

    use std::os::unix::fs::PermissionsExt;
    let env_file = t.root.join("config").join("env");
    assert_eq!(
        std::fs::metadata(&env_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(std::fs::read_to_string(&env_file).unwrap().contains(secret));
    let (_, config) = t.get("/config").unwrap();
    assert!(
        config.contains("secret_token: set"),
        "the service got the secret: {config}"
    );

    for output in [
        t.hoist(&["status", "dev", "--json"]),
        t.hoist(&["releases", "list", "dev", "--json"]),
    ] {
        assert!(!output.stdout.contains(secret));
    }
    let state_files = std::fs::read_dir(t.project.join(".hoist"))
        .unwrap()
        .map(|e| e.unwrap().path());
    for file in state_files.chain([t.root.join(".hoist").join("audit.log")]) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "secret found in {}",
            file.display()
        );
    }
    for entry in walkdir::WalkDir::new(t.root.join("meta"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        // The configuration a release keeps for its rollback holds the secret, privately.
        let parent = entry.path().parent().unwrap();
        if parent.file_name().is_some_and(|name| name == "config") {
            let mode = |path: &std::path::Path| {
                std::fs::metadata(path).unwrap().permissions().mode() & 0o777
            };
            assert_eq!((mode(parent), mode(entry.path())), (0o700, 0o600));
            continue;
        }
        assert!(
            !std::fs::read_to_string(entry.path())
                .unwrap()
                .contains(secret),
            "secret in {}",
            entry.path().display()
        );
    }
}

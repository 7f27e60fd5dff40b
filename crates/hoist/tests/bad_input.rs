//! Bad input gets a clear error naming the problem and the fix, and changes nothing on disk.

use crate::harness::Test;

/// Runs hoist and asserts it failed with exit 1 and `needle` in stderr, and that neither
/// the project nor the deploy root changed.
#[track_caller]
fn refused(t: &Test, args: &[&str], needle: &str) {
    let project_before = Test::snapshot(&t.project);
    let root_before = Test::snapshot(&t.root);
    let outcome = t.hoist(args);
    assert_eq!(outcome.code, 1, "{args:?} should fail with 1: {outcome:?}");
    assert!(
        outcome.stderr.contains(needle),
        "{args:?}: stderr lacks {needle:?}:\n{}",
        outcome.stderr
    );
    assert_eq!(
        Test::snapshot(&t.project),
        project_before,
        "{args:?} changed the project"
    );
    assert_eq!(
        Test::snapshot(&t.root),
        root_before,
        "{args:?} changed the deploy root"
    );
}

#[test]
fn hostile_environment_names_are_refused() {
    let t = Test::new();
    refused(&t, &["deploy", "../x"], "invalid environment name");
    refused(&t, &["deploy", "a b"], "invalid environment name");
    refused(&t, &["deploy", "--", "-rf"], "invalid environment name");
    refused(&t, &["deploy", "-rf"], "unexpected argument");
    refused(&t, &["deploy", "prod"], "not in the spec");
    assert!(
        !t.project.join(".hoist").exists(),
        "no state store was created"
    );
}

#[test]
fn hostile_release_ids_are_refused() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    for id in ["../../etc", "20261121T235959Z-3f2a9c1d/..", "latest", "-rf"] {
        let to = format!("--to={id}");
        refused(&t, &["rollback", "dev", &to], "invalid release id");
        refused(
            &t,
            &["releases", "remove", "dev", "--", id],
            "invalid release id",
        );
    }
    // A well-formed id that names no release is a failed (and recorded) command that
    // leaves the releases as they were.
    let before = t.live();
    t.hoist(&["rollback", "dev", "--to", "20200101T000000Z-00000000"])
        .code(1)
        .stderr_contains("does not exist");
    assert_eq!(t.live(), before);
    t.assert_invariants();
}

#[test]
fn malformed_specs_point_at_the_line() {
    let cases = [
        ("[app\nname = \"x\"\n", "Hoist.toml:1:"),
        (
            "[app]\nname = \"hello\"\n[service]\ncommand = \"x\"\nprot = 80\n[env.dev]\nhosts = [\"local:/tmp/x\"]\n",
            "did you mean `port`?",
        ),
        ("[app]\nname = \"hello\"\n[env.dev]\n", "missing `hosts`"),
        (
            "[app]\nname = \"hello\"\n[env.\"../x\"]\nhosts = [\"local:/tmp/x\"]\n",
            "invalid environment name",
        ),
        (
            "[app]\nname = \"hello\"\n[env.dev]\nhosts = [\"local:relative\"]\n",
            "absolute",
        ),
    ];
    for (spec, needle) in cases {
        let t = Test::new();
        t.write("Hoist.toml", spec);
        refused(&t, &["deploy", "dev"], needle);
        refused(&t, &["spec", "check"], needle);
        assert!(
            !t.project.join(".hoist").exists(),
            "a bad spec must not create the store"
        );
    }
}

#[test]
fn a_missing_spec_says_how_to_make_one() {
    let t = Test::new();
    t.remove("Hoist.toml");
    refused(&t, &["deploy", "dev"], "hoist init");
}

#[test]
fn bad_durations_and_keep_counts_are_refused() {
    let t = Test::new();
    refused(
        &t,
        &["deploy", "dev", "--lock-wait", "soon"],
        "invalid duration",
    );
    refused(&t, &["releases", "prune", "dev", "--keep", "0"], "0");
}

#[test]
fn hostile_hosts_and_jumps_on_the_command_line_are_refused() {
    let t = Test::new();
    let pwned = t.temp.path().join("pwned");
    let proxy = format!("--host=-oProxyCommand=touch {}", pwned.display());
    refused(&t, &["register", "dev", &proxy], "starts with `-`");
    refused(
        &t,
        &["register", "dev", "--host", "web1:0"],
        "the port must be a number from 1 to 65535",
    );
    refused(
        &t,
        &["register", "dev", "--host", "web1:99999"],
        "the port must be a number from 1 to 65535",
    );
    refused(
        &t,
        &["register", "dev", "--host", "de ploy@web1"],
        "the user must be",
    );
    refused(
        &t,
        &["register", "dev", "--host", "deploy@web1", "--jump=-J"],
        "starts with `-`",
    );
    refused(
        &t,
        &["deploy", "dev", "--hosts=-oProxyCommand=x"],
        "starts with `-`",
    );
    refused(
        &t,
        &["deploy", "dev", "--hosts", "local:relative/root"],
        "absolute",
    );
    assert!(!pwned.exists(), "a hostile host reached a shell");
    assert!(
        !t.project.join(".hoist").exists(),
        "no state store was created"
    );
}

#[test]
fn registering_an_ssh_host_without_a_root_is_refused() {
    let t = Test::new();
    t.hoist(&["create", "dev"]).success();
    refused(&t, &["register", "dev", "--host", "deploy@web1"], "root");
    let status = t.hoist(&["status", "dev", "--json"]).success().json();
    assert_eq!(
        status["hosts"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
}

#[test]
fn bad_hosts_roots_and_jumps_in_the_spec_point_at_the_line() {
    let env = |keys: &str| format!("[app]\nname = \"hello\"\n[env.dev]\n{keys}\n");
    let cases = [
        (env("hosts = [\"root@web1\"]"), "missing `root`"),
        (
            env("hosts = [\"root@web1\"]\nroot = \"/srv/../etc\""),
            "must not contain `.` or `..`",
        ),
        (
            env("hosts = [\"root@web1\"]\nroot = \"/srv/app\"\njump = \"-oProxyCommand=x\""),
            "starts with `-`",
        ),
        (
            env(
                "hosts = [{ host = \"root@web1\", jump = \"-oProxyCommand=x\" }]\nroot = \"/srv/app\"",
            ),
            "starts with `-`",
        ),
        (
            env("hosts = [\"-oProxyCommand=x\"]\nroot = \"/srv/app\""),
            "starts with `-`",
        ),
    ];
    for (spec, needle) in cases {
        let t = Test::new();
        t.write("Hoist.toml", &spec);
        refused(&t, &["deploy", "dev"], needle);
        refused(&t, &["spec", "check"], needle);
        refused(&t, &["deploy", "dev"], "Hoist.toml:");
        assert!(
            !t.project.join(".hoist").exists(),
            "a bad spec must not create the store"
        );
    }
}

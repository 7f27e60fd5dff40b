//! Every hint that names a command names one that exists and continues exactly what failed:
//! `releases remove` (not `remove`), a refused `rollback --to` (not a bare `rollback`, which
//! would pick another release), and `deploy` with the spec, hosts and flags it was given.

use crate::harness::Test;

/// The release ids `releases list` shows with `status`.
fn releases_with(t: &Test, status: &str) -> Vec<String> {
    let rows = t
        .hoist(&["releases", "list", "dev", "--json"])
        .success()
        .json();
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|row| row["status"] == status)
        .map(|row| row["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_refused_releases_remove_names_releases_remove() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let live = t.live().unwrap();
    let outcome = t
        .hoist(&["releases", "remove", "dev", &live])
        .code(1)
        .stderr_contains(&format!("release `{live}` is live"))
        .stderr_contains(&format!(
            "then continue with `hoist releases remove dev {live}`"
        ));
    assert!(
        !outcome.stderr.contains("hoist remove"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_refused_rollback_to_a_failed_release_suggests_no_other_rollback() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    t.write("app.py", "this is not python(\n");
    t.hoist(&["deploy", "dev"]).code(1);
    let failed = releases_with(&t, "failed");
    assert_eq!(failed.len(), 1);
    let outcome = t
        .hoist(&["rollback", "dev", "--to", &failed[0]])
        .code(1)
        .stderr_contains(&format!("release `{}`", failed[0]))
        .stderr_contains("`hoist releases list dev` shows the releases");
    assert!(
        !outcome.stderr.contains("continue with"),
        "nothing to continue: {}",
        outcome.stderr
    );
}

#[test]
fn a_failed_deploy_names_the_exact_command_that_continues_it() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    t.write("app.py", "this is not python(\n");
    let spec = t.project.join("Hoist.toml").display().to_string();
    let root = t.root.display().to_string();
    t.hoist(&[
        "-f",
        &spec,
        "deploy",
        "dev",
        "--ttl",
        "2h",
        "--hosts",
        &format!("local:{root}"),
    ])
    .code(1)
    .stderr_contains("failed at step `release`")
    .stderr_contains(&format!(
        "continue with `hoist -f {spec} deploy dev --ttl 7200s --hosts local:{root}`"
    ));
    // A plain one stays plain.
    t.hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains("continue with `hoist deploy dev`");
}

#[test]
fn a_failed_rollback_continues_with_its_target() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();
    // The first release can no longer start: its rollback fails at the health check.
    std::fs::write(t.root.join("releases").join(&first).join("unhealthy"), "").unwrap();
    let spec = std::fs::read_to_string(t.project.join("Hoist.toml"))
        .unwrap()
        .replace("deadline = \"10s\"", "deadline = \"1s\"");
    t.write("Hoist.toml", &spec);
    t.hoist(&["rollback", "dev"])
        .code(1)
        .stderr_contains("failed at step `rollback`")
        .stderr_contains(&format!("continue with `hoist rollback dev --to {first}`"));
}

#[test]
fn a_drifted_check_names_the_deploy_that_converges_it_with_the_same_spec_and_store() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    crate::harness::stop_everything(&t.root);
    let spec = t.project.join("Hoist.toml").display().to_string();
    // A store of its own (outside the uploaded project): the hint must carry it, or its
    // deploy would read another store.
    let state = t
        .project
        .with_file_name("elsewhere.db")
        .display()
        .to_string();
    std::fs::copy(t.project.join(".hoist/state.db"), &state).unwrap();
    let converge = format!("hoist -f {spec} --state {state} deploy dev");
    t.hoist(&["-f", &spec, "--state", &state, "check", "dev"])
        .code(1)
        .stderr_contains(&format!("`{converge}` converges it"));
    let words: Vec<&str> = converge.split(' ').skip(1).collect();
    t.hoist(&words).success();
    t.hoist(&["-f", &spec, "--state", &state, "check", "dev"])
        .success();
}

//! `init`, `spec check [--explain]` and `spec schema`.

use crate::harness::Test;

#[test]
fn init_writes_a_spec_that_checks_and_refuses_to_overwrite() {
    let t = Test::new();
    t.remove("Hoist.toml");
    t.hoist(&["init", "--name", "demo"]).success();
    let written = std::fs::read_to_string(t.project.join("Hoist.toml")).unwrap();
    assert!(
        written.contains("name = \"demo\"") && written.contains('#'),
        "{written}"
    );
    t.hoist(&["spec", "check"])
        .success()
        .stdout_contains("is valid");
    t.hoist(&["init"]).code(1).stderr_contains("--force");
}

#[test]
fn spec_check_explains_defaults_and_schema_is_json() {
    let t = Test::new();
    t.hoist(&["spec", "check", "--explain"])
        .success()
        .stdout_contains("keep_releases")
        .stdout_contains("stop_grace");
    let schema = t.hoist(&["spec", "schema"]).success().json();
    assert!(schema["properties"]["env"].is_object(), "{schema}");
}

#[test]
fn spec_is_found_upward_and_with_f() {
    let t = Test::new();
    let nested = t.project.join("src").join("deep");
    std::fs::create_dir_all(&nested).unwrap();
    let outcome = std::process::Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(["spec", "check"])
        .current_dir(&nested)
        .output()
        .unwrap();
    assert!(
        outcome.status.success(),
        "{}",
        String::from_utf8_lossy(&outcome.stderr)
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let spec = t.project.join("Hoist.toml");
    let outcome = std::process::Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(["-f", spec.to_str().unwrap(), "spec", "check"])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(outcome.status.success());
}

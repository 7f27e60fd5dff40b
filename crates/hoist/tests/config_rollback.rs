//! Configuration goes back with the release: each release keeps the configuration it was
//! deployed with, and a rollback brings it back into `config/` and into the app — under
//! recreate and under blue-green, where the old release starts before `live` switches.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::blue_green::blue_green_spec;
use crate::harness::{SPEC, Test};

fn greeting_spec(spec: &str, greeting: &str) -> String {
    spec.replace(
        "vars = { GREETING = \"hi\" }",
        &format!("vars = {{ GREETING = \"{greeting}\" }}"),
    )
}

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn rollback_brings_the_configuration_back(spec: &str) {
    let t = Test::new().spec(&greeting_spec(spec, "hello"));
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();
    assert_eq!(t.body(), format!("hello from {first}: v1\n"));
    let kept = t.root.join("meta").join(&first).join("config");
    assert_eq!(mode(&kept), 0o700, "the copy holds secrets");
    assert_eq!(mode(&kept.join("env")), 0o600);

    let t = t.spec(&greeting_spec(spec, "bonjour"));
    t.hoist(&["deploy", "dev"]).success();
    let second = t.live().unwrap();
    assert_ne!(first, second, "a configuration change makes a new release");
    assert_eq!(t.body(), format!("bonjour from {second}: v1\n"));

    t.hoist(&["rollback", "dev"])
        .success()
        .stderr_contains(&format!("restored the configuration of `{first}`"));
    assert_eq!(t.live().as_deref(), Some(first.as_str()));
    assert_eq!(t.body(), format!("hello from {first}: v1\n"));
    let env = fs::read_to_string(t.root.join("config/env")).unwrap();
    assert!(env.contains("GREETING='hello'"), "{env}");
    assert_eq!(mode(&t.root.join("config/env")), 0o600);

    // And forward again to the newer release, with its own.
    t.hoist(&["rollback", "dev", "--to", &second])
        .success()
        .stderr_contains(&format!("restored the configuration of `{second}`"));
    assert_eq!(t.body(), format!("bonjour from {second}: v1\n"));
    let env = fs::read_to_string(t.root.join("config/env")).unwrap();
    assert!(env.contains("GREETING='bonjour'"), "{env}");
    t.assert_invariants();
}

#[test]
fn rollback_restores_the_configuration_under_recreate() {
    rollback_brings_the_configuration_back(SPEC);
}

#[test]
fn rollback_restores_the_configuration_under_blue_green() {
    rollback_brings_the_configuration_back(&blue_green_spec());
}

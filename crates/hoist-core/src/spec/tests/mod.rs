//! Whole-spec tests: valid specs and their defaults, and one test per class of mistake,
//! each checking the message and the text its span points at.

mod health;
mod invalid;
mod logs;
mod restart;
mod schema;
mod ssh;
mod traffic;
mod valid;
mod workload_refusals;
mod workloads;

use super::{Spec, SpecDiagnostic};
use crate::{EnvName, HostAddress};

/// A spec with only what is required, to which a test adds or changes things.
const MINIMAL: &str = r#"[app]
name = "hello"

[env.dev]
hosts = ["local:/tmp/hoist-dev"]
"#;

/// The spec `text` describes; panics with the rendered problems if it has any.
pub(super) fn parsed(text: &str) -> Spec {
    match Spec::parse(text) {
        Ok(spec) => spec,
        Err(errors) => panic!("{}", errors.render("Hoist.toml", text)),
    }
}

pub(super) fn env_name(name: &str) -> EnvName {
    match name.parse() {
        Ok(name) => name,
        Err(error) => panic!("{error}"),
    }
}

pub(super) fn host(text: &str) -> super::HostSpec {
    super::HostSpec {
        address: text.parse::<HostAddress>().expect("valid host"),
        jump: None,
    }
}

/// An environment with every SSH and rollout setting at its default.
pub(super) fn env_with_defaults(hosts: Vec<super::HostSpec>) -> super::EnvSpec {
    super::EnvSpec {
        hosts,
        root: None,
        ssh: super::SshOptions {
            connect_timeout: super::defaults::CONNECT_TIMEOUT,
            persist: super::defaults::SSH_PERSIST,
            ..Default::default()
        },
        rollout: super::Rollout {
            parallel: super::defaults::PARALLEL,
            canary: super::defaults::CANARY,
        },
        provision_command: None,
        provision_pass_env: Vec::new(),
        keep_releases: super::defaults::KEEP_RELEASES,
        vars: std::collections::BTreeMap::new(),
        secrets: Vec::new(),
        shared_dirs: Vec::new(),
    }
}

/// Where `needle` first is in `text`.
pub(super) fn position(text: &str, needle: &str) -> usize {
    match text.find(needle) {
        Some(index) => index,
        None => panic!("no {needle:?} in {text:?}"),
    }
}

/// The diagnostics `text` gives; panics if it parses.
fn diagnostics(text: &str) -> Vec<SpecDiagnostic> {
    match Spec::parse(text) {
        Ok(spec) => panic!("expected problems, parsed {spec:#?}"),
        Err(errors) => errors.0,
    }
}

/// The one diagnostic whose message is `message`, and the text its span covers.
fn problem<'t>(text: &'t str, message: &str) -> (SpecDiagnostic, &'t str) {
    let all = diagnostics(text);
    let found: Vec<&SpecDiagnostic> = all.iter().filter(|d| d.message == message).collect();
    assert_eq!(found.len(), 1, "no single `{message}` among {all:#?}");
    let diagnostic = found[0].clone();
    let Some(span) = diagnostic.span.clone() else {
        panic!("`{message}` has no span");
    };
    (diagnostic, &text[span])
}

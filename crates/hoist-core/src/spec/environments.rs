//! The `[env.NAME]` tables: where each environment's hosts are and how they are reached,
//! how a command rolls across them, how many releases to keep, its variables, secret names
//! and shared directories.

use std::collections::{BTreeMap, BTreeSet};

use super::defaults;
use super::hosts::{read_hosts, read_root};
use super::names::{PathKind, VARIABLE_NAME_HINT, is_variable_name, relative_paths};
use super::problems::Problems;
use super::section::Section;
use super::ssh_options::read_ssh_options;
use super::{EnvSpec, Rollout};
use crate::EnvName;

const ENV_KEYS: &[&str] = &[
    "hosts",
    "root",
    "jump",
    "ssh_config",
    "identity",
    "host_binary",
    "connect_timeout",
    "ssh_persist",
    "parallel",
    "canary",
    "provision",
    "keep_releases",
    "vars",
    "secrets",
    "shared_dirs",
];
const PROVISION_KEYS: &[&str] = &["command", "pass_env"];

/// Set by hoist for the service, so a spec cannot set it.
const RESERVED_VARIABLE: &str = "PORT";

pub(super) fn read_environments(
    root: &Section<'_>,
    app_name: &str,
    problems: &mut Problems,
) -> BTreeMap<EnvName, EnvSpec> {
    let mut environments = BTreeMap::new();
    let section = match root.field("env") {
        Some(field) => match field.section(None, problems) {
            Some(section) => section,
            None => return environments,
        },
        None => {
            report_no_environments(None, app_name, problems);
            return environments;
        }
    };
    if section.is_empty() {
        report_no_environments(section.span(), app_name, problems);
    }
    for field in section.fields() {
        let name = match field.key.parse::<EnvName>() {
            Ok(name) => Some(name),
            Err(error) => {
                problems.error_with_hint(field.key_span.clone(), error.to_string(), error.hint());
                None
            }
        };
        // Read the tables of badly named environments too, so every problem shows at once.
        let Some(env_section) = field.section(Some("env"), problems) else {
            continue;
        };
        let environment = read_environment(&env_section, app_name, problems);
        if let Some(name) = name {
            environments.insert(name, environment);
        }
    }
    environments
}

fn report_no_environments(
    span: Option<std::ops::Range<usize>>,
    app_name: &str,
    problems: &mut Problems,
) {
    let app_name = if app_name.is_empty() {
        "my-app"
    } else {
        app_name
    };
    problems.error_with_hint(
        span,
        "no environments: the spec needs at least one `[env.NAME]` table",
        format!("add one, for example:\n\n    [env.dev]\n    hosts = [\"local:/tmp/hoist/{app_name}/dev\"]"),
    );
}

fn read_environment(section: &Section<'_>, app_name: &str, problems: &mut Problems) -> EnvSpec {
    section.check_keys(ENV_KEYS, problems);
    let hosts = read_hosts(section, app_name, problems);
    let root = read_root(section, &hosts, app_name, problems);
    let ssh = read_ssh_options(section, problems);
    let rollout = read_rollout(section, problems);
    let (provision_command, provision_pass_env) = read_provision(section, problems);
    let keep_releases = section
        .field("keep_releases")
        .and_then(|field| field.integer(1, 1000, problems))
        .and_then(|keep| u32::try_from(keep).ok())
        .unwrap_or(defaults::KEEP_RELEASES);
    let vars = read_vars(section, problems);
    let secrets = read_secrets(section, &vars, problems);
    let shared_dirs = section
        .field("shared_dirs")
        .and_then(|field| field.strings(problems))
        .and_then(|texts| relative_paths(&texts, "shared_dirs", PathKind::Inside, problems))
        .unwrap_or_default();
    EnvSpec {
        hosts,
        root,
        ssh,
        rollout,
        provision_command,
        provision_pass_env,
        keep_releases,
        vars,
        secrets,
        shared_dirs,
    }
}

/// `parallel` and `canary`; a canary larger than the host list just means every host.
fn read_rollout(section: &Section<'_>, problems: &mut Problems) -> Rollout {
    let mut count = |key, minimum, default| {
        section
            .field(key)
            .and_then(|field| field.integer(minimum, defaults::MAX_HOSTS_AT_ONCE, problems))
            .and_then(|count| u32::try_from(count).ok())
            .unwrap_or(default)
    };
    Rollout {
        parallel: count("parallel", 1, defaults::PARALLEL),
        canary: count("canary", 0, defaults::CANARY),
    }
}

/// `[env.NAME.provision]`: the one command whose output lists more hosts, and the
/// controller variables it may read.
fn read_provision(section: &Section<'_>, problems: &mut Problems) -> (Option<String>, Vec<String>) {
    let Some(provision) = section.section("provision", problems) else {
        return (None, Vec::new());
    };
    provision.check_keys(PROVISION_KEYS, problems);
    let pass_env = super::names::pass_env(&provision, problems);
    let command = provision
        .required("command", "command = \"tofu output -json hosts\"", problems)
        .and_then(|field| field.string(problems))
        .and_then(|text| {
            if text.value.trim().is_empty() {
                problems.error(text.span, "`command` must not be empty");
                return None;
            }
            Some(text.value.to_owned())
        });
    (command, pass_env)
}

fn read_vars(section: &Section<'_>, problems: &mut Problems) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    let Some(vars_section) = section.section("vars", problems) else {
        return vars;
    };
    for field in vars_section.fields() {
        if !is_variable_name(field.key) {
            problems.error_with_hint(
                field.key_span.clone(),
                format!("invalid variable name `{}`", field.key),
                VARIABLE_NAME_HINT,
            );
        } else if field.key == RESERVED_VARIABLE {
            report_reserved(field.key_span.clone(), "a variable", problems);
        }
        match field.text() {
            Some(text) => {
                vars.insert(field.key.to_owned(), text.value.to_owned());
            }
            None => {
                let written = field
                    .item
                    .as_value()
                    .map(|value| value.to_string().trim().to_owned())
                    .unwrap_or_default();
                problems.error_with_hint(
                    field.span(),
                    format!("variable `{}` must be a string", field.key),
                    format!(
                        "quote the value: `{} = \"{}\"`",
                        field.key,
                        written.trim_matches('"')
                    ),
                );
            }
        }
    }
    vars
}

fn read_secrets(
    section: &Section<'_>,
    vars: &BTreeMap<String, String>,
    problems: &mut Problems,
) -> Vec<String> {
    let Some(texts) = section
        .field("secrets")
        .and_then(|field| field.strings(problems))
    else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    let mut secrets = Vec::with_capacity(texts.len());
    for text in texts {
        let name = text.value;
        if !is_variable_name(name) {
            problems.error_with_hint(
                text.span,
                format!("invalid secret name `{name}`"),
                VARIABLE_NAME_HINT,
            );
        } else if name == RESERVED_VARIABLE {
            report_reserved(text.span, "a secret", problems);
        } else if vars.contains_key(name) {
            problems.error_with_hint(
                text.span,
                format!(
                    "`{name}` is both a variable and a secret in {}",
                    section.name()
                ),
                "keep it in `vars` if it may be shown, in `secrets` if not",
            );
        } else if !seen.insert(name) {
            problems.error(text.span, format!("secret `{name}` is listed twice"));
        } else {
            secrets.push(name.to_owned());
        }
    }
    secrets
}

fn report_reserved(span: Option<std::ops::Range<usize>>, what: &str, problems: &mut Problems) {
    problems.error_with_hint(
        span,
        format!("`{RESERVED_VARIABLE}` cannot be {what}: hoist sets it"),
        "hoist sets `PORT` to the port the service must listen on; read it from the environment",
    );
}

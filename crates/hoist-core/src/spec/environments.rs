//! The `[env.NAME]` tables: where each environment's hosts are, how many releases to keep,
//! its variables, secret names and shared directories.

use std::collections::{BTreeMap, BTreeSet};

use super::defaults;
use super::names::{PathKind, VARIABLE_NAME_HINT, is_variable_name, relative_paths};
use super::problems::Problems;
use super::section::{Section, Text};
use super::{EnvSpec, HostSpec, Rollout, SshOptions};
use crate::{EnvName, HostAddress};

const ENV_KEYS: &[&str] = &["hosts", "keep_releases", "vars", "secrets", "shared_dirs"];

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
        let environment = read_environment(&env_section, problems);
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

fn read_environment(section: &Section<'_>, problems: &mut Problems) -> EnvSpec {
    section.check_keys(ENV_KEYS, problems);
    let hosts = section
        .required("hosts", "hosts = [\"local:/srv/my-app\"]", problems)
        .and_then(|field| {
            let texts = field.strings(problems)?;
            if texts.is_empty() {
                problems.error_with_hint(
                    field.span(),
                    format!("`hosts` in {} must list at least one host", section.name()),
                    "add a host like `\"local:/srv/my-app\"`",
                );
            }
            Some(read_hosts(section, &texts, problems))
        })
        .unwrap_or_default();
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
        hosts: hosts
            .into_iter()
            .map(|address| HostSpec {
                address,
                jump: None,
            })
            .collect(),
        root: None,
        ssh: SshOptions {
            connect_timeout: defaults::CONNECT_TIMEOUT,
            ..SshOptions::default()
        },
        rollout: Rollout {
            parallel: defaults::PARALLEL,
            canary: defaults::CANARY,
        },
        provision_command: None,
        keep_releases,
        vars,
        secrets,
        shared_dirs,
    }
}

fn read_hosts(
    section: &Section<'_>,
    texts: &[Text<'_>],
    problems: &mut Problems,
) -> Vec<HostAddress> {
    let mut hosts: Vec<HostAddress> = Vec::with_capacity(texts.len());
    for text in texts {
        match text.value.parse::<HostAddress>() {
            Ok(host) if hosts.contains(&host) => problems.error(
                text.span.clone(),
                format!("host `{host}` is listed twice in {}", section.name()),
            ),
            Ok(host) => hosts.push(host),
            Err(error) => {
                problems.error_with_hint(text.span.clone(), error.to_string(), error.hint());
            }
        }
    }
    hosts
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

//! Rendering an environment's configuration: the env file (`config/env`, vars and secrets)
//! and the minijinja templates of `[config]`, plus the non-secret snapshot whose hash tells
//! whether a release's configuration changed. Secret values only ever reach the rendered
//! files, which go to the host's `config/` (0600).

use std::collections::BTreeMap;
use std::path::Path;

use hoist_core::EnvName;
use hoist_core::spec::{EnvSpec, Spec, Strategy};

use crate::error::{Error, Result};
use crate::hostside::host_call::WireHealth;
use crate::ports::SecretSource;
use crate::ports::host::ConfigFile;

/// The env file's name inside `config/`.
pub const ENV_FILE: &str = "env";

/// What a release records about its configuration, with no secret value in it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigSnapshot {
    pub value: serde_json::Value,
    /// blake3 (hex) of `value`.
    pub hash: String,
}

pub fn snapshot(
    spec: &Spec,
    spec_dir: &Path,
    env_name: &EnvName,
    env: &EnvSpec,
) -> Result<ConfigSnapshot> {
    let mut templates = BTreeMap::new();
    for path in &spec.config.templates {
        let text = read_template(spec_dir, path)?;
        templates.insert(
            output_name(path)?,
            blake3::hash(text.as_bytes()).to_hex().to_string(),
        );
    }
    // The health check too: putting a release back probes it the way it was deployed.
    let service = spec.service.as_ref().map(|service| {
        serde_json::json!({
            "command": service.workload.process_command(),
            "port": service.port,
            "strategy": match service.strategy { Strategy::Recreate => "recreate", Strategy::BlueGreen => "blue-green" },
            "health": service.health.as_ref().map(WireHealth::from),
        })
    });
    let value = serde_json::json!({
        "env": env_name,
        "vars": env.vars,
        "secret_names": env.secrets,
        "shared_dirs": env.shared_dirs,
        "service": service,
        "templates": templates,
    });
    let hash = blake3::hash(value.to_string().as_bytes())
        .to_hex()
        .to_string();
    Ok(ConfigSnapshot { value, hash })
}

/// Renders `config/env` and every template, reading secrets from `secrets`.
pub fn render(
    spec: &Spec,
    spec_dir: &Path,
    env_name: &EnvName,
    env: &EnvSpec,
    secrets: &dyn SecretSource,
) -> Result<Vec<ConfigFile>> {
    let mut secret_values = BTreeMap::new();
    for name in &env.secrets {
        let value = secrets.get(name).ok_or_else(|| {
            Error::failed(format!("secret `{name}` of environment `{env_name}` is not set"))
                .hint(format!("export {name}=… in the shell that runs hoist; its value goes only to the host's `config/env` (mode 0600)"))
        })?;
        secret_values.insert(name.clone(), value);
    }
    let mut env_file = String::from("# written by `hoist configure`; do not edit\n");
    for (name, value) in env.vars.iter().chain(secret_values.iter()) {
        env_file.push_str(&format!("{name}={}\n", hoist_core::shell::quote(value)));
    }
    let mut files = vec![ConfigFile {
        name: ENV_FILE.to_owned(),
        contents: env_file.into_bytes(),
    }];

    let mut jinja = minijinja::Environment::new();
    jinja.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // Config files usually end with a newline; minijinja drops it unless told not to.
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| Error::internal("cannot configure the template engine").cause(e))?;
    jinja.set_syntax(syntax);
    let context = minijinja::context! {
        app => spec.app.name.clone(),
        env => env_name.as_str(),
        vars => env.vars.clone(),
        secrets => secret_values,
        port => spec.service.as_ref().map(|s| s.port),
    };
    for path in &spec.config.templates {
        let name = output_name(path)?;
        let text = read_template(spec_dir, path)?;
        let rendered = jinja.render_str(&text, &context).map_err(|error| {
            Error::failed(format!("cannot render template `{}`", path.display()))
                .cause(error)
                .hint("templates see `app`, `env`, `port`, `vars.NAME` and `secrets.NAME`")
        })?;
        files.push(ConfigFile {
            name,
            contents: rendered.into_bytes(),
        });
    }
    Ok(files)
}

fn read_template(spec_dir: &Path, path: &Path) -> Result<String> {
    let full = spec_dir.join(path);
    std::fs::read_to_string(&full).map_err(|error| {
        Error::failed(format!("cannot read config template `{}`", path.display()))
            .cause(error)
            .hint("paths in `[config] templates` are relative to the directory of Hoist.toml")
    })
}

/// `deploy/app.ini.j2` → `app.ini`.
fn output_name(path: &Path) -> Result<String> {
    let file = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let name = file.strip_suffix(".j2").unwrap_or(file);
    if name.is_empty() || name == ENV_FILE || name.starts_with('.') {
        return Err(Error::failed(format!(
            "config template `{}` would be written as `{name}`",
            path.display()
        ))
        .hint("name templates like `app.ini.j2`; `env` is reserved for the env file"));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_drop_j2_and_refuse_env() {
        assert_eq!(
            output_name(Path::new("deploy/app.ini.j2")).unwrap(),
            "app.ini"
        );
        assert!(output_name(Path::new("env.j2")).is_err());
    }
}

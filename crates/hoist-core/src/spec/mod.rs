//! The spec, `Hoist.toml`: what to build and upload, how to run the service, and the
//! environments to deploy to. `Spec::parse` turns text into a validated `Spec` or into
//! diagnostics that point at the offending line; nothing here reads files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::env_name::EnvName;
use crate::host_address::{HostAddress, SshDestination};

mod container_values;
mod defaults;
mod diagnostic;
mod environments;
mod health;
mod hosts;
mod names;
mod parse;
mod problems;
mod read_container;
mod read_workload;
mod restart;
mod schema;
mod section;
mod service_logs;
mod ssh_options;
mod starter;
mod suggest;
mod traffic;
mod workload;
mod workload_schema;

pub use defaults::explain_defaults;
pub use diagnostic::{SpecDiagnostic, SpecErrors};
pub use health::{Health, HealthCheck, StatusRange};
pub use traffic::{NginxProxy, Proxy, default_upstream_file, default_upstream_name};
pub use workload::{
    Compose, Container, Engine, ImageSource, Volume, VolumeMode, VolumeSource, Workload,
    engine_name,
};

/// A whole, validated spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub app: App,
    pub build: Build,
    pub hooks: Hooks,
    /// What runs and serves the release; none when the hooks alone handle it (e.g. `refresh`
    /// reloading a web server that serves the files).
    pub service: Option<Service>,
    pub config: ConfigTemplates,
    /// `[env.NAME]` tables, by name.
    pub envs: BTreeMap<EnvName, EnvSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    /// Local shell commands run in order, in the spec's directory, before uploading.
    pub steps: Vec<String>,
    /// What to upload, relative to the spec's directory: either these paths (default `["."]`)…
    pub upload: Vec<PathBuf>,
    /// …or one directory whose contents become the release.
    pub upload_version: Option<PathBuf>,
    /// Glob patterns (gitignore style) left out of the upload; `.git` and `.hoist` always are.
    pub exclude: Vec<String>,
    /// The controller's variables the steps may read besides the basics
    /// (`controller_env::ALWAYS_PASSED`); no other reaches them.
    pub pass_env: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Hooks {
    /// Run in the new release directory after upload, before it is marked ready.
    pub post_upload: Vec<String>,
    /// Run in the live release before it is switched away from.
    pub stop: Vec<String>,
    /// Run in the new live release after the switch.
    pub start: Vec<String>,
    /// When given, `run` switches and runs these instead of stop/start (`apachectl graceful`).
    pub refresh: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Recreate,
    BlueGreen,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// What runs: a process (`command`), a container, a compose stack or a static site.
    pub workload: Workload,
    /// The public port users reach.
    pub port: u16,
    pub strategy: Strategy,
    /// SIGTERM, then this long, then SIGKILL.
    pub stop_grace: Duration,
    pub health: Option<Health>,
    /// What routes to a blue-green service (`builtin` unless set).
    pub proxy: Proxy,
    /// How long the old blue-green instance may finish its requests before it is stopped.
    pub drain: Duration,
    /// `[service.restart]`: how the supervisor on each host restarts an instance that exits.
    pub restart: crate::supervision::RestartPolicy,
    /// `[service.health] liveness_interval`, `liveness_failures` (only with a health check).
    pub liveness: crate::supervision::Liveness,
    /// `log_max`: an instance's log is rotated when it would grow past this many bytes.
    pub log_max: u64,
    /// `log_keep`: rotated log files kept (`NAME.log.1` … `NAME.log.N`).
    pub log_keep: u32,
}

/// `[config] templates = ["deploy/app.ini.j2"]`: minijinja templates rendered at configure
/// time into the host's `config/` directory (name without `.j2`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigTemplates {
    pub templates: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnvSpec {
    pub hosts: Vec<HostSpec>,
    /// The deploy root on SSH hosts (absolute); required when any host is an SSH host.
    /// `local:` hosts carry their own root.
    pub root: Option<PathBuf>,
    pub ssh: SshOptions,
    pub rollout: Rollout,
    /// `[env.NAME.provision] command`: a local command (an OpenTofu apply, a cloud CLI) run by
    /// `provision`, whose JSON output lists more hosts.
    pub provision_command: Option<String>,
    /// `[env.NAME.provision] pass_env`: the controller's variables that command may read
    /// besides the basics.
    pub provision_pass_env: Vec<String>,
    pub keep_releases: u32,
    /// Plain variables, written to the env file and given to templates.
    pub vars: BTreeMap<String, String>,
    /// Names of environment variables read at configure time; their values are secret.
    pub secrets: Vec<String>,
    /// Directories under `shared/` linked into every release.
    pub shared_dirs: Vec<PathBuf>,
}

/// One entry of `hosts`: a string, or `{ host = "deploy@web3", jump = "bastion2" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    pub address: HostAddress,
    /// Overrides the environment's `jump` for this host.
    pub jump: Option<SshDestination>,
}

/// How SSH hosts are reached. Paths are as written: relative ones are relative to the spec's
/// directory, `~/` is the user's home.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SshOptions {
    /// `jump = "bastion"`: every SSH host is reached through this one (ProxyJump).
    pub jump: Option<SshDestination>,
    /// `ssh_config = "deploy/ssh_config"`: used instead of `~/.ssh/config`.
    pub config: Option<PathBuf>,
    /// `identity = "~/.ssh/deploy_ed25519"`.
    pub identity: Option<PathBuf>,
    /// `host_binary = "…"`: the hoist binary to install on hosts (default: this one).
    pub host_binary: Option<PathBuf>,
    /// `connect_timeout = "10s"`.
    pub connect_timeout: Duration,
    /// `ssh_persist = "60s"`: how long a host's connection stays up after a command, for the
    /// next one to reuse (`"0s"`: closed with the command).
    pub persist: Duration,
}

/// `parallel = 4`, `canary = 1`: how a command rolls across hosts. Failure policy is halt:
/// hosts not yet reached stay as they were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rollout {
    /// At most this many hosts at once (>= 1).
    pub parallel: u32,
    /// This many hosts go first, fully through run and health, before the rest.
    pub canary: u32,
}

impl Spec {
    /// Parses and validates a spec. On failure every problem found is returned, each with a
    /// byte span into `text` where one is known.
    pub fn parse(text: &str) -> Result<Spec, SpecErrors> {
        parse::parse(text)
    }

    /// The JSON Schema of `Hoist.toml`.
    pub fn json_schema() -> serde_json::Value {
        schema::json_schema()
    }

    /// A commented starter spec for `hoist init`, which parses as valid.
    pub fn starter(app_name: &str) -> String {
        starter::starter(app_name)
    }

    pub fn env(&self, name: &EnvName) -> Option<&EnvSpec> {
        self.envs.get(name)
    }
}

#[cfg(test)]
mod tests;

//! What every op needs: the spec, the store, a way to reach hosts, the clock, a progress
//! listener, where secrets come from, and who is acting.

use std::path::PathBuf;
use std::time::Duration;

use hoist_core::spec::EnvSpec;
use hoist_core::{EnvName, HostAddress, Spec};

use crate::error::{Error, Result};
use crate::ops::continuation::Continuation;
use crate::ports::controller_wake::ControllerWake;
use crate::ports::{Clock, HostConnector, Progress, SecretSource, Store};

/// Who runs this process: recorded on commands, leases, locks and events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `user@machine`.
    pub name: String,
    pub machine: String,
    pub pid: u32,
}

pub struct Context<'a> {
    pub spec: &'a Spec,
    /// The directory of `Hoist.toml`: builds run there, uploads start there.
    pub spec_dir: PathBuf,
    pub store: &'a dyn Store,
    pub hosts: &'a dyn HostConnector,
    pub clock: &'a dyn Clock,
    pub progress: &'a dyn Progress,
    pub secrets: &'a dyn SecretSource,
    pub actor: Actor,
    /// How long to wait for a held environment before giving up.
    pub lock_wait: Duration,
    /// How to spell `hoist` in a command that continues (e.g. `hoist -f ci/Hoist.toml`).
    pub invocation: String,
    /// `--hosts`: act on these hosts only (empty: all of the environment's).
    pub host_filter: Vec<HostAddress>,
    /// Wakes the controllers after the queue changed.
    pub wake: &'a dyn ControllerWake,
    /// Set when a controller runs a scheduled command: the command row to adopt instead of
    /// recording a new one.
    pub claimed: Option<ClaimedCommand>,
}

/// A scheduled command a controller claimed and now runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedCommand {
    pub id: i64,
    pub controller: String,
    /// Its time, when it was handed over a little early: everything that can be done before
    /// (spec, connections, the environment's lease) is, then it starts exactly then.
    pub start_at: Option<jiff::Timestamp>,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("spec_dir", &self.spec_dir)
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl Context<'_> {
    /// The spec's `[env.NAME]`, or an error listing the environments it has.
    pub fn env_spec(&self, name: &EnvName) -> Result<&EnvSpec> {
        self.spec.env(name).ok_or_else(|| {
            let known: Vec<String> = self.spec.envs.keys().map(|n| format!("`{n}`")).collect();
            Error::failed(format!("environment `{name}` is not in the spec")).hint(
                if known.is_empty() {
                    "add an `[env.NAME]` table to Hoist.toml".to_owned()
                } else {
                    format!(
                        "the spec defines {}; add `[env.{name}]` to Hoist.toml to create it",
                        known.join(", ")
                    )
                },
            )
        })
    }

    /// Where the service answers, when the spec has one: on this machine for `local:` hosts,
    /// else on the environment's first SSH host (its blue-green proxy or instance listens on
    /// every address there).
    pub fn service_url(&self, env: &EnvName) -> Option<String> {
        let service = self.spec.service.as_ref()?;
        let host = self
            .spec
            .env(env)
            .and_then(|env| env.hosts.first())
            .map(|host| match &host.address {
                HostAddress::Local { .. } => "127.0.0.1".to_owned(),
                HostAddress::Ssh(destination) => destination.host.clone(),
            })
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        let host = match host.contains(':') {
            true => format!("[{host}]"),
            false => host,
        };
        Some(format!("http://{host}:{}/", service.port))
    }

    /// The exact command line for an action on an environment, for hints.
    pub fn command_line(&self, verb: &str, env: &EnvName) -> String {
        format!("{} {verb} {env}", self.invocation)
    }

    /// The command line of `continuation`, quoted for a shell, with `--hosts` when this
    /// command was limited to some hosts (continuing must not widen it).
    pub fn continuation_line(&self, continuation: &Continuation) -> String {
        continuation.line(&self.invocation, &self.host_filter)
    }
}

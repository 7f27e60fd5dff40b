//! The application context: everything a command needs from the outside world, found once
//! from plain options — the spec (given, or `Hoist.toml` here or upward), the state store,
//! who is acting — and owned here, so that the command line, the scheduler and the server
//! build the same thing (as cargo keeps its `GlobalContext` in the library). `ops` borrow it
//! as a `Context`. Where its progress goes is the builder's choice: the CLI's printer, or
//! the daemon's log.

mod spec_file;
mod store_choice;

use std::sync::Arc;
use std::time::Duration;

use hoist_core::{EnvName, HostAddress, shell};

pub use spec_file::{LoadedSpec, SPEC_FILE, SpecProblems, load_spec, load_spec_reporting};

use crate::adapters::env_secrets::EnvSecrets;
use crate::adapters::host_connector::Connector;
use crate::adapters::masking_store::MaskingStore;
use crate::adapters::postgres_store::store_url::is_postgres_url;
use crate::adapters::udp_wake::UdpWake;
use crate::error::{Error, Result};
use crate::known_secrets::KnownSecrets;
use crate::ops::{Actor, Context};
use crate::ports::clock::SystemClock;
use crate::ports::progress::Progress;
use crate::ports::store::Store;

/// What an `App` is built from: what `-f`, `--state`, `--lock-wait` and `--hosts` say on
/// the command line, or what the daemon was started with.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// The spec file; `None`: `Hoist.toml` here or in a parent directory.
    pub spec: Option<std::path::PathBuf>,
    /// A SQLite file or a `postgres://` URL; `None`: `.hoist/state.db` beside the spec.
    pub state: Option<std::path::PathBuf>,
    pub lock_wait: Duration,
    pub host_filter: Vec<HostAddress>,
}

/// The parts a `Context` borrows, owned here.
pub struct App {
    pub spec: LoadedSpec,
    /// SQLite (a path) or PostgreSQL (a `postgres://` URL), as `--state` says, behind a
    /// `MaskingStore`: no known secret value goes in or comes out.
    pub store: Box<dyn Store>,
    pub connector: Connector,
    pub clock: SystemClock,
    pub progress: Arc<dyn Progress>,
    pub secrets: EnvSecrets,
    /// The values of the spec's secrets this process has: masked wherever they would be
    /// recorded or printed.
    pub known_secrets: KnownSecrets,
    pub actor: Actor,
    pub lock_wait: Duration,
    pub invocation: String,
    pub host_filter: Vec<HostAddress>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("spec", &self.spec.path)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Loads the spec, then opens the store (creating it) — in that order, so a bad spec
    /// leaves nothing behind on disk.
    pub fn open(options: &AppOptions, progress: Arc<dyn Progress>) -> Result<Self> {
        let spec = load_spec(options.spec.as_deref())?;
        Self::with_spec(options, spec, progress)
    }

    /// Like `open`, refusing an environment the spec does not define before the store is
    /// opened (and so created).
    pub fn for_env(
        options: &AppOptions,
        env: &EnvName,
        progress: Arc<dyn Progress>,
    ) -> Result<Self> {
        let spec = load_spec(options.spec.as_deref())?;
        if spec.spec.env(env).is_none() {
            let known: Vec<String> = spec.spec.envs.keys().map(|n| format!("`{n}`")).collect();
            return Err(Error::failed(format!(
                "environment `{env}` is not in the spec `{}`",
                spec.path.display()
            ))
            .hint(format!(
                "the spec defines {}; add `[env.{env}]` to create it",
                known.join(", ")
            )));
        }
        Self::with_spec(options, spec, progress)
    }

    fn with_spec(
        options: &AppOptions,
        spec: LoadedSpec,
        progress: Arc<dyn Progress>,
    ) -> Result<Self> {
        let known_secrets = KnownSecrets::process().clone();
        known_secrets.learn(&spec.spec, &EnvSecrets);
        let store = Box::new(MaskingStore::new(
            store_choice::open_store(options.state.as_deref(), &spec.dir)?,
            known_secrets.clone(),
        ));
        Ok(Self {
            spec,
            store,
            connector: Connector,
            clock: SystemClock,
            progress,
            secrets: EnvSecrets,
            known_secrets,
            actor: actor(),
            lock_wait: options.lock_wait,
            invocation: invocation(options),
            host_filter: options.host_filter.clone(),
        })
    }

    /// The context of a command run for the person (or token) acting here.
    pub fn context(&self) -> Context<'_> {
        Context {
            spec: &self.spec.spec,
            spec_dir: self.spec.dir.clone(),
            store: self.store.as_ref(),
            hosts: &self.connector,
            clock: &self.clock,
            progress: self.progress.as_ref(),
            secrets: &self.secrets,
            actor: self.actor.clone(),
            lock_wait: self.lock_wait,
            invocation: self.invocation.clone(),
            host_filter: self.host_filter.clone(),
            wake: &UdpWake,
            claimed: None,
        }
    }

    /// The context of work the daemon does in the background with `spec` (the spec as it
    /// is on disk now, which may be newer than the one it started with): nothing to print.
    pub fn background_context<'a>(&'a self, spec: &'a LoadedSpec) -> Context<'a> {
        // A secret the spec named since the daemon started is masked too.
        self.known_secrets.learn(&spec.spec, &self.secrets);
        Context {
            spec: &spec.spec,
            spec_dir: spec.dir.clone(),
            progress: &crate::ports::progress::SilentProgress,
            ..self.context()
        }
    }
}

/// How to spell hoist in a command that continues this one: with the spec and the store
/// this one was given (a `postgres://` URL is left out: it may hold a password).
fn invocation(options: &AppOptions) -> String {
    let mut words = vec!["hoist".to_owned()];
    if let Some(path) = &options.spec {
        words.push("-f".to_owned());
        words.push(shell::quote_if_needed(&path.display().to_string()));
    }
    if let Some(state) = &options.state
        && !is_postgres_url(&state.to_string_lossy())
    {
        words.push("--state".to_owned());
        words.push(shell::quote_if_needed(&state.display().to_string()));
    }
    words.join(" ")
}

fn actor() -> Actor {
    let machine =
        crate::hostside::lock_file::machine_name().unwrap_or_else(|_| "localhost".to_owned());
    let user = std::env::var("USER")
        .ok()
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| "unknown".to_owned());
    Actor {
        name: format!("{user}@{machine}"),
        machine,
        pid: std::process::id(),
    }
}

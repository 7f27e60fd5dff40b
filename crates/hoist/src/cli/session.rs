//! Everything a command needs from the outside world, found once: the spec (given, or
//! `Hoist.toml` here or upward), the state store, who is acting, and the process
//! environment — and, with `HOIST_SERVER` set, the daemon to talk to instead of the store.
//! The only place that reads environment variables besides secrets.

use std::path::{Path, PathBuf};

use hoist_core::{EnvName, Spec, shell};

use crate::adapters::api_client::ApiClient;
use crate::adapters::env_secrets::EnvSecrets;
use crate::adapters::host_connector::Connector;
use crate::adapters::masking_store::MaskingStore;
use crate::adapters::postgres_store::PostgresStore;
use crate::adapters::postgres_store::store_url::is_postgres_url;
use crate::adapters::secret_box::{KEY_FILE_VARIABLE, KEY_VARIABLE, SecretKeeper, SecretKey};
use crate::adapters::sqlite_store::SqliteStore;
use crate::adapters::udp_wake::UdpWake;
use crate::cli::args::GlobalArgs;
use crate::cli::progress_printer::ProgressPrinter;
use crate::error::{Error, Result};
use crate::known_secrets::KnownSecrets;
use crate::ops::{Actor, Context};
use crate::ports::clock::SystemClock;
use crate::ports::store::Store;

pub const SPEC_FILE: &str = "Hoist.toml";

/// The spec as loaded: its path, its directory and the parsed value.
#[derive(Debug)]
pub struct LoadedSpec {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub spec: Spec,
}

/// The parts a `Context` borrows, owned here.
pub struct Session {
    pub spec: LoadedSpec,
    /// SQLite (a path) or PostgreSQL (a `postgres://` URL), as `--state` says, behind a
    /// `MaskingStore`: no known secret value goes in or comes out.
    pub store: Box<dyn Store>,
    pub connector: Connector,
    pub clock: SystemClock,
    pub progress: ProgressPrinter,
    pub secrets: EnvSecrets,
    /// The values of the spec's secrets this process has: masked wherever they would be
    /// recorded or printed.
    pub known_secrets: KnownSecrets,
    pub actor: Actor,
    pub lock_wait: std::time::Duration,
    pub invocation: String,
    pub host_filter: Vec<hoist_core::HostAddress>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("spec", &self.spec.path)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Loads the spec, then opens the store (creating it) — in that order, so a bad spec
    /// leaves nothing behind on disk.
    pub fn open(global: &GlobalArgs) -> Result<Self> {
        Self::with_spec(global, load_spec(global.spec.as_deref())?)
    }

    /// Like `open`, refusing an environment the spec does not define before the store is
    /// opened (and so created).
    pub fn for_env(global: &GlobalArgs, env: &EnvName) -> Result<Self> {
        let spec = load_spec(global.spec.as_deref())?;
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
        Self::with_spec(global, spec)
    }

    fn with_spec(global: &GlobalArgs, spec: LoadedSpec) -> Result<Self> {
        let known_secrets = KnownSecrets::process().clone();
        known_secrets.learn(&spec.spec, &EnvSecrets);
        let store = Box::new(MaskingStore::new(
            open_store(global.state.as_deref(), &spec.dir)?,
            known_secrets.clone(),
        ));
        let invocation = invocation(global);
        Ok(Self {
            spec,
            store,
            connector: Connector,
            clock: SystemClock,
            progress: ProgressPrinter::new(global.json, known_secrets.clone()),
            secrets: EnvSecrets,
            known_secrets,
            actor: actor(),
            lock_wait: global.lock_wait,
            invocation,
            host_filter: global.hosts.clone(),
        })
    }

    pub fn context(&self) -> Context<'_> {
        Context {
            spec: &self.spec.spec,
            spec_dir: self.spec.dir.clone(),
            store: self.store.as_ref(),
            hosts: &self.connector,
            clock: &self.clock,
            progress: &self.progress,
            secrets: &self.secrets,
            actor: self.actor.clone(),
            lock_wait: self.lock_wait,
            invocation: self.invocation.clone(),
            host_filter: self.host_filter.clone(),
            wake: &UdpWake,
            claimed: None,
        }
    }
}

/// The store `--state` (or `HOIST_STATE`) names: a `postgres://` or `postgresql://` URL is a
/// PostgreSQL database, anything else a SQLite file; by default `.hoist/state.db` beside the
/// spec.
/// How to spell hoist in a command that continues this one: with the spec and the store
/// this one was given (a `postgres://` URL is left out: it may hold a password).
fn invocation(global: &GlobalArgs) -> String {
    let mut words = vec!["hoist".to_owned()];
    if let Some(path) = &global.spec {
        words.push("-f".to_owned());
        words.push(shell::quote_if_needed(&path.display().to_string()));
    }
    if let Some(state) = &global.state
        && !is_postgres_url(&state.to_string_lossy())
    {
        words.push("--state".to_owned());
        words.push(shell::quote_if_needed(&state.display().to_string()));
    }
    words.join(" ")
}

fn open_store(state: Option<&Path>, spec_dir: &Path) -> Result<Box<dyn Store>> {
    match state {
        Some(state) => match state.to_str().filter(|state| is_postgres_url(state)) {
            Some(url) => Ok(Box::new(PostgresStore::open_with(url, shared_key()?)?)),
            None => Ok(Box::new(SqliteStore::open(state)?)),
        },
        None => Ok(Box::new(SqliteStore::open(
            &spec_dir.join(".hoist").join("state.db"),
        )?)),
    }
}

/// How a spec's problems are put in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecProblems {
    /// Each with its line and caret, for a terminal.
    Rendered,
    /// All on the error's first line, for a record that keeps one line (a command's error).
    OneLine,
}

/// The key a shared (PostgreSQL) store seals webhook secrets with: `HOIST_SECRET_KEY` (64
/// hex digits), or the file `HOIST_SECRET_KEY_FILE` names; the same for every controller.
fn shared_key() -> Result<SecretKeeper> {
    let given = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|value| !value.trim().is_empty())
    };
    let key = match (given(KEY_VARIABLE), given(KEY_FILE_VARIABLE)) {
        (Some(hex), _) => SecretKey::from_hex(&hex)
            .map_err(|error| error.context(format!("`{KEY_VARIABLE}` is not a key")))?,
        (None, Some(path)) => SecretKey::read_file(Path::new(&path))?,
        (None, None) => return Ok(SecretKeeper::missing()),
    };
    Ok(SecretKeeper::given(key))
}

/// Reads and validates the spec at `given`, or finds `Hoist.toml` from the current directory up.
pub fn load_spec(given: Option<&Path>) -> Result<LoadedSpec> {
    load_spec_reporting(given, SpecProblems::Rendered)
}

/// `load_spec`, with its problems reported as `problems` says.
pub fn load_spec_reporting(given: Option<&Path>, problems: SpecProblems) -> Result<LoadedSpec> {
    let path = match given {
        Some(path) => path.to_path_buf(),
        None => find_spec()?,
    };
    let text = std::fs::read_to_string(&path).map_err(|error| {
        Error::failed(format!("cannot read the spec `{}`", path.display()))
            .cause(error)
            .hint("give the spec with `-f PATH`, or create one with `hoist init`")
    })?;
    let spec = Spec::parse(&text).map_err(|errors| {
        let count = errors.0.len();
        let shown = path.display().to_string();
        let error = Error::failed(format!(
            "the spec `{shown}` has {count} problem{}",
            if count == 1 { "" } else { "s" }
        ));
        match problems {
            SpecProblems::Rendered => {
                error.cause(format!("\n{}", errors.render(&shown, &text).trim_end()))
            }
            SpecProblems::OneLine => error.cause(errors.summary(&shown, &text)),
        }
    })?;
    let absolute = std::path::absolute(&path).map_err(|e| Error::io("resolve", &path, e))?;
    let dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(LoadedSpec { path, dir, spec })
}

fn find_spec() -> Result<PathBuf> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::internal("cannot read the current directory").cause(e))?;
    for dir in cwd.ancestors() {
        let candidate = dir.join(SPEC_FILE);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(Error::failed(format!(
        "no `{SPEC_FILE}` in `{}` or any parent directory",
        cwd.display()
    ))
    .hint("create one with `hoist init`, or give one with `-f PATH`"))
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

/// The daemon to send state-changing commands and `hoist commands …` to: `HOIST_SERVER`
/// (`http://HOST:PORT` or `https://…`; `HOIST_CA_FILE` for a private CA) with the token in
/// `HOIST_TOKEN`. `None` (unset or empty): use the store directly.
pub fn remote() -> Result<Option<ApiClient>> {
    let Some(server) = std::env::var("HOIST_SERVER")
        .ok()
        .filter(|server| !server.trim().is_empty())
    else {
        return Ok(None);
    };
    let token = std::env::var("HOIST_TOKEN").unwrap_or_default();
    ApiClient::new(server.trim(), &token).map(Some)
}

/// `NO_COLOR` set to anything non-empty turns colour off.
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

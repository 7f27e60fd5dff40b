//! The command line, as clap sees it. Values are parsed into core types here, so bad input
//! is refused before anything is opened or written.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hoist_core::{EnvName, HostAddress, ReleaseId, SshDestination};

use crate::cli::value_parsers::{duration, env_name};

#[derive(Debug, Parser)]
#[command(
    name = "hoist",
    version,
    about = "Deploy services to hosts you own: versioned releases, atomic switches, rollback, an audit trail.",
    after_help = "Exit codes: 0 ok, 1 failed step or bad input, 2 internal error, 3 environment locked.\n\
                  Quick start: `hoist init`, edit Hoist.toml, then `hoist deploy dev`.\n\
                  Through a daemon: HOIST_SERVER=http(s)://HOST:PORT HOIST_TOKEN=…; \
                  HOIST_CA_FILE=ca.pem trusts a private CA for https (also for webhooks)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The spec to use (default: `Hoist.toml` here or in a parent directory)
    #[arg(short = 'f', long = "spec", global = true, value_name = "PATH")]
    pub spec: Option<PathBuf>,
    /// The state store: a SQLite file, or a `postgres://user@host/database` URL (default:
    /// `.hoist/state.db` beside the spec)
    #[arg(long, global = true, value_name = "PATH|URL", env = "HOIST_STATE")]
    pub state: Option<PathBuf>,
    /// Print a machine-readable result on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Wait this long for a locked environment (e.g. `2m`)
    #[arg(long, global = true, value_name = "DURATION", value_parser = duration, default_value = "0s")]
    pub lock_wait: Duration,
    /// Act on these hosts only (comma-separated, as written in the spec)
    #[arg(long, global = true, value_name = "HOST,…", value_delimiter = ',', value_parser = host_address)]
    pub hosts: Vec<HostAddress>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter Hoist.toml
    Init(InitArgs),
    /// Validate the spec or print its JSON Schema
    #[command(subcommand)]
    Spec(SpecCommand),
    /// Record an environment the spec defines
    Create(ActArgs),
    /// Create the deploy layout on the environment's hosts and check their tools
    Provision(ProvisionArgs),
    /// Render the env file and config templates into the hosts' config/
    Configure(ActArgs),
    /// Build and upload a new release, ready to run
    Release(ActArgs),
    /// Make the pending release live (stop, switch, start, health check)
    Run(ActArgs),
    /// Run whatever steps are left: create, provision, configure, release, run
    Deploy(DeployArgs),
    /// Make an earlier release live again
    Rollback(RollbackArgs),
    /// List, remove or prune releases
    #[command(subcommand)]
    Releases(ReleasesCommand),
    /// Stop the service and delete the environment's deploy roots
    Destroy(DestroyArgs),
    /// Adopt existing hosts into an environment (or forget them with --remove)
    Register(RegisterArgs),
    /// List the environments of the spec and the store
    List,
    /// Show an environment's state, hosts, instances and last command
    Status(EnvArgs),
    /// Compare what was recorded with what the hosts have; exit 1 on drift
    Check(CheckArgs),
    /// Put the app behind a 503 maintenance page (health paths still answer), or take it off
    Maintenance(MaintenanceArgs),
    /// Start the live release's instances again (blue-green: swapped with no failed request)
    Restart(ActArgs),
    /// List, show, cancel or reschedule recorded and scheduled commands
    #[command(subcommand)]
    Commands(CommandsCommand),
    /// Show the timeline: who did what, when, and how it ended
    Events(crate::cli::timeline_args::EventsArgs),
    /// Send events to HTTP receivers, signed; list, remove, show deliveries
    #[command(subcommand)]
    Webhooks(crate::cli::timeline_args::WebhooksCommand),
    /// Make, list or revoke API tokens
    #[command(subcommand)]
    Tokens(crate::cli::daemon_args::TokensCommand),
    /// Run the controller: the REST API, scheduled commands at their time, webhooks
    Serve(crate::cli::daemon_args::ServeArgs),
    /// Show the service logs of the environment's hosts, merged by time
    Logs(crate::cli::operate_args::LogsArgs),
    /// Run a one-off command in the live release on every host, with the app's environment
    Exec(crate::cli::operate_args::ExecArgs),
    /// Host-side operations, run on a host by its controller
    #[command(hide = true)]
    Host(HostArgs),
    /// Run the built-in reverse proxy in the foreground (hosts start it; see `proxy.pid`)
    #[command(hide = true)]
    Proxy(ProxyArgs),
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Environment name, as in `[env.NAME]`
    #[arg(value_parser = env_name)]
    pub env: EnvName,
}

/// A state-changing command on one environment, now or later.
#[derive(Debug, Args)]
pub struct ActArgs {
    /// Environment name, as in `[env.NAME]`
    #[arg(value_parser = env_name)]
    pub env: EnvName,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
}

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// Environment name, as in `[env.NAME]`
    #[arg(value_parser = env_name)]
    pub env: EnvName,
    #[command(flatten)]
    pub adopt: AdoptArgs,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
}

/// `--adopt`, for the commands that lay deploy roots out.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct AdoptArgs {
    /// Use deploy roots that already hold files hoist did not put there: hoist lays its tree
    /// out beside them, and `destroy` deletes only what hoist added
    #[arg(long)]
    pub adopt: bool,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Environment name, as in `[env.NAME]`
    #[arg(value_parser = env_name)]
    pub env: EnvName,
    /// Also schedule the environment's `destroy` this long after the deploy succeeds
    /// (preview environments), e.g. `4h`
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub ttl: Option<Duration>,
    #[command(flatten)]
    pub adopt: AdoptArgs,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
}

/// `--at`/`--in`: record the command as scheduled instead of running it now.
#[derive(Debug, Clone, Default, Args)]
pub struct ScheduleArgs {
    /// Run it later, at this time: RFC 3339 (`2026-12-04T09:00:00Z`) or a local time and a
    /// zone (`2026-12-04 09:00 Europe/Berlin`)
    #[arg(long, value_name = "TIME", value_parser = at_time, conflicts_with = "after")]
    pub at: Option<jiff::Timestamp>,
    /// Run it later, this long from now (e.g. `2h30m`)
    #[arg(long = "in", id = "after", value_name = "DURATION", value_parser = duration)]
    pub after: Option<Duration>,
    /// A scheduled command that cannot start this long after its time ends `expired`
    /// instead of running late [default: 15m]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub start_within: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub enum CommandsCommand {
    /// List commands, newest first
    List {
        /// Only this environment's
        #[arg(long, value_parser = env_name)]
        env: Option<EnvName>,
        /// Only commands in this status (scheduled, running, succeeded, failed, …)
        #[arg(long, value_parser = command_status)]
        status: Option<hoist_core::CommandStatus>,
        /// At most this many
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one command with its step log
    Show { id: i64 },
    /// Cancel a command that has not started yet
    Cancel { id: i64 },
    /// Move a command that has not started yet to another time
    Reschedule {
        id: i64,
        #[command(flatten)]
        schedule: ScheduleArgs,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The app's name (default: the directory's name)
    #[arg(long)]
    pub name: Option<String>,
    /// Overwrite an existing Hoist.toml
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum SpecCommand {
    /// Validate the spec; exit 1 with every problem found
    Check {
        /// Also list every default value
        #[arg(long)]
        explain: bool,
    },
    /// Print the JSON Schema of Hoist.toml
    Schema,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[arg(value_parser = env_name)]
    pub env: EnvName,
    /// First repair what is safe: stop instances no record owns, start a dead proxy
    #[arg(long)]
    pub fix: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct MaintenanceArgs {
    /// `on` answers 503 with a short page; `off` serves again
    #[arg(value_enum)]
    pub switch: Switch,
    #[arg(value_parser = env_name)]
    pub env: EnvName,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[arg(value_parser = env_name)]
    pub env: EnvName,
    /// The release to go back to (default: the one before the live one)
    #[arg(long, value_name = "ID", value_parser = release_id)]
    pub to: Option<ReleaseId>,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
}

#[derive(Debug, Subcommand)]
pub enum ReleasesCommand {
    /// List the releases on every host
    List(EnvArgs),
    /// Delete a release that is not live
    Remove {
        #[arg(value_parser = env_name)]
        env: EnvName,
        #[arg(value_parser = release_id)]
        id: ReleaseId,
        #[command(flatten)]
        schedule: ScheduleArgs,
    },
    /// Delete failed releases and all but the newest kept ones
    Prune {
        #[arg(value_parser = env_name)]
        env: EnvName,
        /// How many to keep (default: the spec's `keep_releases`)
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        keep: Option<u32>,
        #[command(flatten)]
        schedule: ScheduleArgs,
    },
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[arg(value_parser = env_name)]
    pub env: EnvName,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Also remove the environment's container and compose volumes (kept unless asked)
    #[arg(long)]
    pub volumes: bool,
    #[command(flatten)]
    pub schedule: ScheduleArgs,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[arg(value_parser = env_name)]
    pub env: EnvName,
    /// A host to add: `deploy@web1`, `web2:2222`, `local:/srv/app` (repeatable)
    #[arg(long = "host", value_name = "HOST", required = true, value_parser = host_address)]
    pub hosts: Vec<HostAddress>,
    /// Reach these hosts through this jump host
    #[arg(long, value_name = "HOST", value_parser = ssh_destination)]
    pub jump: Option<SshDestination>,
    /// Forget the hosts instead
    #[arg(long)]
    pub remove: bool,
}

fn host_address(text: &str) -> Result<HostAddress, String> {
    text.parse::<HostAddress>()
        .map_err(|e| format!("{e}\nhint: {}", e.hint()))
}

fn ssh_destination(text: &str) -> Result<SshDestination, String> {
    text.parse::<SshDestination>()
        .map_err(|e| format!("{e}\nhint: {}", e.hint()))
}

#[derive(Debug, Args)]
pub struct HostArgs {
    /// The deploy root on this host (absolute)
    #[arg(long, value_name = "PATH")]
    pub root: PathBuf,
    #[command(subcommand)]
    pub command: HostCommand,
}

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// The public address to accept requests on
    #[arg(long, value_name = "ADDRESS")]
    pub listen: std::net::SocketAddr,
    /// The proxy's own directory: routes.json, admin.sock, proxy.pid (not the global --state)
    #[arg(long, value_name = "DIR")]
    pub state_dir: PathBuf,
    /// How long in-flight requests may take to finish on SIGTERM
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "5s")]
    pub drain_timeout: Duration,
}

#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Run one operation: a JSON request on stdin, a JSON response on stdout
    Call,
    /// Answer requests until stdin closes: one JSON request per line in, one response per line out
    Serve,
    /// Receive the needed files of a release being uploaded, as a file stream on stdin
    Receive {
        #[arg(value_parser = release_id)]
        id: ReleaseId,
    },
    /// Monitor one instance: run the launch spec given on stdin, log its output, record its exit
    Instance {
        #[arg(long)]
        slot: crate::ports::runtime::Slot,
    },
    /// Keep the root's supervised instances running (one supervisor per root)
    Supervise,
    /// Start the root after a reboot: its proxy, its supervisor and through it the instances
    Boot,
    /// Run a command in the live release with an instance's environment, its output and
    /// exit status passed through (`hoist exec` on a remote host)
    Exec {
        #[arg(long, value_parser = env_name)]
        env: EnvName,
        /// The release to run in (default: the live one)
        #[arg(long, value_parser = release_id)]
        release: Option<ReleaseId>,
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
}

fn release_id(text: &str) -> Result<ReleaseId, String> {
    text.parse::<ReleaseId>()
        .map_err(|e| format!("{e}\nhint: {}", e.hint()))
}

fn at_time(text: &str) -> Result<jiff::Timestamp, String> {
    hoist_core::schedule_time::parse_at(text).map_err(|e| format!("{e}\nhint: {}", e.hint()))
}

fn command_status(text: &str) -> Result<hoist_core::CommandStatus, String> {
    hoist_core::CommandStatus::ALL
        .into_iter()
        .find(|status| status.as_str() == text)
        .ok_or_else(|| {
            let known: Vec<&str> = hoist_core::CommandStatus::ALL
                .iter()
                .map(|s| s.as_str())
                .collect();
            format!("unknown status `{text}`\nhint: one of {}", known.join(", "))
        })
}

#[cfg(test)]
mod tests;

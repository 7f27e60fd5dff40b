//! The value every optional spec key takes when left out, in one place so the parser, the
//! JSON Schema and `explain_defaults` cannot disagree.

use std::time::Duration;

use super::{Strategy, Volume, Workload};
use crate::byte_size::format_byte_size;
use crate::duration::format_duration;

pub(super) const UPLOAD: &str = ".";
/// A process's strategy; every kind's is `strategy_for`.
pub(super) const STRATEGY: Strategy = Strategy::Recreate;
pub(super) const RUNTIME: &str = "process";
pub(super) const STOP_GRACE: Duration = Duration::from_secs(10);
pub(super) const DRAIN: Duration = Duration::from_secs(10);
pub(super) const LOG_MAX: u64 = 10 * 1024 * 1024;
pub(super) const LOG_KEEP: u32 = 3;
pub(super) const HEALTH_EXPECT_STATUS: u16 = 200;
pub(super) const HEALTH_INTERVAL: Duration = Duration::from_millis(500);
pub(super) const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
pub(super) const HEALTH_DEADLINE: Duration = Duration::from_secs(30);
pub(super) const HEALTH_SUCCESSES: u32 = 1;
pub(super) const HEALTH_INITIAL_DELAY: Duration = Duration::ZERO;
pub(super) const HEALTH_KIND: &str = "http";
pub(super) const LIVENESS_INTERVAL: Duration = Duration::from_secs(10);
pub(super) const LIVENESS_FAILURES: u32 = 3;
pub(super) const RESTART_BACKOFF: Duration = Duration::from_secs(1);
pub(super) const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(60);
pub(super) const RESTART_CRASH_LOOP: u32 = 5;
pub(super) const RESTART_WINDOW: Duration = Duration::from_secs(120);
pub(super) const KEEP_RELEASES: u32 = 5;
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a host's ssh connection outlives a command, as Ansible's ControlPersist.
pub(super) const SSH_PERSIST: Duration = Duration::from_secs(60);
pub(super) const PARALLEL: u32 = 8;
pub(super) const CANARY: u32 = 0;
/// The most `parallel` and `canary` may be: each host in flight holds an ssh connection and
/// its processes here, and a bound catches typos like `parallel = 8000`.
pub(super) const MAX_HOSTS_AT_ONCE: i64 = 256;

/// The strategy a service runs with when `strategy` is left out: blue-green for a container
/// unless one of its volumes would be written by both copies; recreate for every other kind.
pub(super) fn strategy_for(workload: &Workload) -> Strategy {
    match workload {
        Workload::Container(container)
            if !container.volumes.iter().any(Volume::blocks_blue_green) =>
        {
            Strategy::BlueGreen
        }
        Workload::Process { .. } => STRATEGY,
        Workload::Container(_) | Workload::Compose(_) | Workload::Static { .. } => {
            Strategy::Recreate
        }
    }
}

impl Strategy {
    /// As written in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recreate => "recreate",
            Self::BlueGreen => "blue-green",
        }
    }
}

/// Every optional key (dotted, `env.NAME` for any environment) and its default, as written
/// in the spec.
pub fn explain_defaults() -> Vec<(&'static str, String)> {
    let quoted_duration = |duration| format!("\"{}\"", format_duration(duration));
    vec![
        ("build.steps", "[]".to_owned()),
        ("build.upload", format!("[\"{UPLOAD}\"]")),
        ("build.exclude", "[]".to_owned()),
        ("build.pass_env", "[]".to_owned()),
        ("build.context", "\".\" (with containerfile)".to_owned()),
        ("hooks.post_upload", "[]".to_owned()),
        ("hooks.stop", "[]".to_owned()),
        ("hooks.start", "[]".to_owned()),
        ("hooks.refresh", "[]".to_owned()),
        ("service.runtime", format!("\"{RUNTIME}\"")),
        (
            "service.strategy",
            format!(
                "\"{}\" (container: \"blue-green\", or \"recreate\" with a writable volume)",
                STRATEGY.as_str()
            ),
        ),
        (
            "service.engine",
            "\"podman\", else \"docker\" (whichever the host has)".to_owned(),
        ),
        ("service.volumes", "[] (container only)".to_owned()),
        ("service.stop_grace", quoted_duration(STOP_GRACE)),
        ("service.proxy", "\"builtin\" (blue-green only)".to_owned()),
        ("service.drain", quoted_duration(DRAIN)),
        ("service.restart.backoff", quoted_duration(RESTART_BACKOFF)),
        (
            "service.restart.backoff_max",
            quoted_duration(RESTART_BACKOFF_MAX),
        ),
        ("service.restart.crash_loop", RESTART_CRASH_LOOP.to_string()),
        ("service.restart.window", quoted_duration(RESTART_WINDOW)),
        (
            "service.log_max",
            format!("\"{}\"", format_byte_size(LOG_MAX)),
        ),
        ("service.log_keep", LOG_KEEP.to_string()),
        (
            "service.nginx.upstream_file",
            "\"/etc/nginx/conf.d/hoist-APP.conf\"".to_owned(),
        ),
        ("service.nginx.upstream_name", "\"hoist_APP\"".to_owned()),
        ("service.nginx.command", "\"nginx\"".to_owned()),
        ("service.health.kind", format!("\"{HEALTH_KIND}\"")),
        (
            "service.health.expect_status",
            HEALTH_EXPECT_STATUS.to_string(),
        ),
        ("service.health.interval", quoted_duration(HEALTH_INTERVAL)),
        ("service.health.timeout", quoted_duration(HEALTH_TIMEOUT)),
        ("service.health.deadline", quoted_duration(HEALTH_DEADLINE)),
        ("service.health.successes", HEALTH_SUCCESSES.to_string()),
        (
            "service.health.initial_delay",
            quoted_duration(HEALTH_INITIAL_DELAY),
        ),
        (
            "service.health.liveness_interval",
            format!("{} (\"0s\": off)", quoted_duration(LIVENESS_INTERVAL)),
        ),
        (
            "service.health.liveness_failures",
            LIVENESS_FAILURES.to_string(),
        ),
        ("config.templates", "[]".to_owned()),
        ("env.NAME.connect_timeout", quoted_duration(CONNECT_TIMEOUT)),
        (
            "env.NAME.ssh_persist",
            format!("{} (\"0s\": off)", quoted_duration(SSH_PERSIST)),
        ),
        ("env.NAME.parallel", PARALLEL.to_string()),
        ("env.NAME.canary", CANARY.to_string()),
        ("env.NAME.provision.pass_env", "[]".to_owned()),
        ("env.NAME.keep_releases", KEEP_RELEASES.to_string()),
        ("env.NAME.vars", "{}".to_owned()),
        ("env.NAME.secrets", "[]".to_owned()),
        ("env.NAME.shared_dirs", "[]".to_owned()),
    ]
}

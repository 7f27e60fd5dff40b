//! A router sends a host's public traffic to the live instance of a blue-green pair: the
//! built-in `hoist proxy` (started and pid-tracked by hoist) or the host's nginx.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hoist_core::spec::{Proxy, Service};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// What routes on a host, as the spec says; travels to remote hosts as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RouteConfig {
    Builtin {
        /// Where `hoist proxy` listens: every address, on the service's `port`.
        listen: SocketAddr,
        /// How long the proxy lets in-flight requests finish when it is stopped.
        drain_ms: u64,
        /// Paths still forwarded in maintenance.
        health_paths: Vec<String>,
    },
    Nginx {
        upstream_file: PathBuf,
        upstream_name: String,
        command: Vec<String>,
    },
}

impl RouteConfig {
    pub fn for_service(service: &Service) -> Self {
        match &service.proxy {
            Proxy::Builtin => Self::Builtin {
                listen: SocketAddr::from(([0, 0, 0, 0], service.port)),
                drain_ms: u64::try_from(service.drain.as_millis()).unwrap_or(u64::MAX),
                health_paths: health_paths(service),
            },
            Proxy::Nginx(nginx) => Self::Nginx {
                upstream_file: nginx.upstream_file.clone(),
                upstream_name: nginx.upstream_name.clone(),
                command: nginx.command.clone(),
            },
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Builtin { .. } => "builtin",
            Self::Nginx { .. } => "nginx",
        }
    }
}

/// The health check's path, if it is an HTTP one: answered even in maintenance.
fn health_paths(service: &Service) -> Vec<String> {
    match service.health.as_ref().map(|health| &health.check) {
        Some(hoist_core::spec::HealthCheck::Http { path, .. }) => vec![path.clone()],
        _ => Vec::new(),
    }
}

/// The built-in proxy's process on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyProcessState {
    pub pid: u32,
    pub listen: SocketAddr,
    pub alive: bool,
    /// RFC 3339.
    pub started_at: String,
}

/// Where a host's route points now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteState {
    /// The instance address requests go to (none: no route yet).
    pub upstream: Option<SocketAddr>,
    pub maintenance: bool,
    /// The directory the built-in proxy serves files from, for a static site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_root: Option<PathBuf>,
    /// The built-in proxy's process, when it is the router and was ever started.
    pub proxy: Option<ProxyProcessState>,
}

/// What `ensure_proxy` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyStart {
    /// It was running already.
    Running,
    Started,
    /// A recorded proxy had died (or listened elsewhere) and was started again.
    Restarted,
    /// nginx: hoist starts nothing; it only checks nginx is there.
    External,
}

pub trait Router: Send + Sync {
    /// Makes sure the router runs: starts `hoist proxy` (or starts it again if it died).
    fn ensure_proxy(&self, config: &RouteConfig) -> Result<ProxyStart>;
    /// Where the route points, without starting anything.
    fn route(&self, config: &RouteConfig) -> Result<RouteState>;
    /// Points the route at `127.0.0.1:port` in one swap (an upsert, never remove-then-add).
    fn set_upstream(&self, config: &RouteConfig, port: u16) -> Result<()>;
    /// Serves the static site `site` (relative to the live release) with the built-in proxy,
    /// through the deploy root's `live` link: switching `live` is the deploy from then on.
    fn set_static(&self, config: &RouteConfig, site: &Path) -> Result<()>;
    /// Waits until no request is in flight to `port`, at most `limit`; returns how many still
    /// were when it stopped waiting.
    fn drain(&self, config: &RouteConfig, port: u16, limit: Duration) -> Result<usize>;
    fn set_maintenance(&self, config: &RouteConfig, on: bool) -> Result<()>;
    /// A loopback port nothing listens on now, for a new instance.
    fn free_port(&self) -> Result<u16>;
    /// Stops the built-in proxy if hoist started one; true if one was running.
    fn stop_proxy(&self) -> Result<bool>;
}

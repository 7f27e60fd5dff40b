//! The router of a deploy root on this machine: the built-in proxy through its admin socket,
//! or nginx through its upstream file. Remote hosts run the same code through `hoist host`.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::hostside::nginx_upstream::NginxUpstream;
use crate::hostside::proxy_process::ProxyProcess;
use crate::ports::router::{ProxyStart, RouteConfig, RouteState, Router};
use crate::proxy::AdminCommand;

const DRAIN_POLL: Duration = Duration::from_millis(20);
/// How long `stop_proxy` waits for the proxy to finish its requests before SIGKILL.
const PROXY_STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct LocalRouter {
    proxy: ProxyProcess,
    root: PathBuf,
}

impl LocalRouter {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Self {
            proxy: ProxyProcess::new(root.clone()),
            root,
        }
    }

    /// The running proxy, or an error saying how to get one.
    fn running_proxy(&self) -> Result<&ProxyProcess> {
        match self.proxy.state()? {
            Some(state) if state.alive => Ok(&self.proxy),
            _ => Err(
                Error::failed("the built-in proxy is not running on this host")
                    .hint("`hoist check ENV --fix` (or `hoist provision ENV`) starts it again"),
            ),
        }
    }
}

fn nginx(
    upstream_file: &std::path::Path,
    upstream_name: &str,
    command: &[String],
) -> NginxUpstream {
    NginxUpstream {
        file: upstream_file.to_path_buf(),
        upstream_name: upstream_name.to_owned(),
        command: command.to_vec(),
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Router for LocalRouter {
    fn ensure_proxy(&self, config: &RouteConfig) -> Result<ProxyStart> {
        match config {
            RouteConfig::Builtin {
                listen,
                drain_ms,
                health_paths,
            } => {
                let started = self
                    .proxy
                    .ensure(*listen, Duration::from_millis(*drain_ms))?;
                let routes = self.proxy.admin(&AdminCommand::Get(None))?.routes;
                if routes.is_none_or(|routes| &routes.health_paths != health_paths) {
                    self.proxy
                        .admin(&AdminCommand::HealthPaths(health_paths.clone()))?;
                }
                Ok(started)
            }
            RouteConfig::Nginx { command, .. } => {
                let program = command.first().map(String::as_str).unwrap_or("nginx");
                which(program).map(|_| ProxyStart::External).ok_or_else(|| {
                    Error::failed(format!("`{program}` is not installed on this host"))
                        .hint("install nginx, or set `[service.nginx] command` to its path")
                })
            }
        }
    }

    fn route(&self, config: &RouteConfig) -> Result<RouteState> {
        match config {
            RouteConfig::Builtin { .. } => {
                let proxy = self.proxy.state()?;
                let routes = match &proxy {
                    Some(state) if state.alive => {
                        self.proxy.admin(&AdminCommand::Get(None))?.routes
                    }
                    // Not running: what it would restore is what it last wrote.
                    _ => crate::proxy::RouteTable::load(&self.proxy.paths().routes)
                        .ok()
                        .map(|table| crate::proxy::Routes::clone(&table.current())),
                };
                Ok(RouteState {
                    upstream: routes.as_ref().and_then(|routes| routes.upstream),
                    static_root: routes
                        .as_ref()
                        .and_then(|routes| routes.static_root.clone()),
                    maintenance: routes.is_some_and(|routes| routes.maintenance),
                    proxy,
                })
            }
            RouteConfig::Nginx {
                upstream_file,
                upstream_name,
                command,
            } => Ok(RouteState {
                upstream: nginx(upstream_file, upstream_name, command).current()?,
                static_root: None,
                maintenance: false,
                proxy: None,
            }),
        }
    }

    fn set_upstream(&self, config: &RouteConfig, port: u16) -> Result<()> {
        match config {
            RouteConfig::Builtin { .. } => self
                .running_proxy()?
                .admin(&AdminCommand::SetUpstream(Some(loopback(port))))
                .map(|_| ()),
            RouteConfig::Nginx {
                upstream_file,
                upstream_name,
                command,
            } => nginx(upstream_file, upstream_name, command).set_upstream(loopback(port)),
        }
    }

    fn set_static(&self, config: &RouteConfig, site: &Path) -> Result<()> {
        let RouteConfig::Builtin { .. } = config else {
            return Err(
                Error::failed("a static site is served by the built-in proxy only")
                    .hint("leave `proxy` out of `[service]`"),
            );
        };
        // Through `live`, resolved again on every request: switching `live` is the deploy.
        let root = self.root.join("live").join(site);
        self.running_proxy()?
            .admin(&AdminCommand::SetStatic(Some(root)))
            .map(|_| ())
    }

    fn drain(&self, config: &RouteConfig, port: u16, limit: Duration) -> Result<usize> {
        let upstream = loopback(port);
        let started = Instant::now();
        loop {
            let left = match config {
                RouteConfig::Builtin { .. } => self
                    .running_proxy()?
                    .admin(&AdminCommand::Get(None))?
                    .in_flight
                    .get(&upstream)
                    .copied()
                    .unwrap_or(0),
                // nginx's old workers finish their requests after a reload, then close their
                // connections: the instance's open connections are what is left.
                RouteConfig::Nginx { .. } => established_connections(port),
            };
            if left == 0 || started.elapsed() >= limit {
                return Ok(left);
            }
            thread::sleep(DRAIN_POLL);
        }
    }

    fn set_maintenance(&self, config: &RouteConfig, on: bool) -> Result<()> {
        match config {
            RouteConfig::Builtin { .. } => self
                .running_proxy()?
                .admin(&AdminCommand::Maintenance(on))
                .map(|_| ()),
            RouteConfig::Nginx { .. } => {
                Err(Error::failed("maintenance mode needs the built-in proxy")
                    .hint("with nginx, serve a maintenance page from your nginx config"))
            }
        }
    }

    fn free_port(&self) -> Result<u16> {
        TcpListener::bind(loopback(0))
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .map_err(|e| Error::failed("cannot find a free port on this host").cause(e))
    }

    fn stop_proxy(&self) -> Result<bool> {
        self.proxy.stop(PROXY_STOP_GRACE)
    }
}

/// The path of `program` on `PATH` (or itself, when it is a path that exists).
fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return path.exists().then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Established TCP connections whose local end is `port` (IPv4 and IPv6).
fn established_connections(port: u16) -> usize {
    let wanted = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|table| {
            table
                .lines()
                .skip(1)
                .filter(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // fields[1] local address, fields[3] state (01 = ESTABLISHED).
                    fields.get(1).is_some_and(|local| local.ends_with(&wanted))
                        && fields.get(3) == Some(&"01")
                })
                .count()
        })
        .sum()
}

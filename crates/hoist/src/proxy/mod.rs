//! `hoist proxy`: the built-in reverse proxy on a host. It forwards HTTP/1.1 and h2c to
//! one upstream named by a route table, or serves the files of one directory (a static
//! site), which an admin socket swaps atomically (blue-green) and which survives restarts. Its state directory holds `routes.json`, `admin.sock` and
//! `proxy.pid`.

pub mod admin;
pub mod forward;
pub mod in_flight;
pub mod routes;
pub mod server;
pub mod serving_thread;
pub mod static_files;
pub mod thread_routes;
pub mod upstream_body;
pub mod upstream_connection;
pub mod upstream_head;
pub mod upstream_pool;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use admin::{AdminCommand, AdminReply, request};
pub use routes::{RouteTable, Routes};
pub use server::run;

#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// The public address clients connect to.
    pub listen: SocketAddr,
    /// Where the route table, admin socket and pid file live.
    pub state_dir: PathBuf,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub drain_timeout: Duration,
}

/// The files of a proxy's state directory.
#[derive(Debug, Clone)]
pub struct ProxyPaths {
    pub routes: PathBuf,
    pub admin_socket: PathBuf,
    pub pid_file: PathBuf,
}

impl ProxyPaths {
    pub fn new(state_dir: &Path) -> Self {
        Self {
            routes: state_dir.join("routes.json"),
            admin_socket: state_dir.join("admin.sock"),
            pid_file: state_dir.join("proxy.pid"),
        }
    }
}

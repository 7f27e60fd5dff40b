//! Adapters: the real implementations of the ports.

pub mod env_secrets;
pub mod http_probe;
pub mod local_connector;
pub mod local_host;
pub mod sqlite_store;
pub mod ssh_transport;
pub mod transport;

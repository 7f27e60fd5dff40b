//! Adapters: the real implementations of the ports.

pub mod env_secrets;
pub mod http_probe;
pub mod local_connector;
pub mod local_host;
pub mod local_process_transport;
pub mod remote_host;
pub mod sqlite_store;
pub mod transport;

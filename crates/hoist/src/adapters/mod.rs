//! Adapters: the real implementations of the ports.

pub mod api_client;
pub mod env_secrets;
pub mod host_connector;
pub mod http_client;
pub mod local_process_transport;
pub mod masking_store;
pub mod postgres_store;
pub mod remote_host;
pub mod secret_box;
pub mod sqlite_store;
pub mod ssh_transport;
#[cfg(test)]
pub(crate) mod store_contract;
mod store_forwarding;
pub mod transport;
pub mod udp_wake;

//! Ports: the small traits ops are written against. Adapters implement them; tests can
//! drive ops with real adapters over temp directories.

pub mod clock;
pub mod command_queue;
pub mod command_record;
pub mod connector;
pub mod controller_wake;
pub mod host;
pub mod probe;
pub mod progress;
pub mod router;
pub mod runtime;
pub mod secrets;
pub mod service_logs;
pub mod store;
pub mod supervisor;
pub mod token_store;
pub mod webhook_store;

pub use clock::Clock;
pub use connector::{HostConnector, HostHandle, HostTarget};
pub use host::Host;
pub use probe::Probe;
pub use progress::Progress;
pub use router::Router;
pub use runtime::Runtime;
pub use secrets::SecretSource;
pub use store::Store;
pub use supervisor::Supervisor;

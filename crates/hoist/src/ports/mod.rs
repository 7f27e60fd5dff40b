//! Ports: the small traits ops are written against. Adapters implement them; tests can
//! drive ops with real adapters over temp directories.

pub mod clock;
pub mod host;
pub mod probe;
pub mod progress;
pub mod runtime;
pub mod store;

pub use clock::Clock;
pub use host::Host;
pub use probe::Probe;
pub use progress::Progress;
pub use runtime::Runtime;
pub use store::Store;

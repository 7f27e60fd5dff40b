//! Waking the controllers (`hoist serve`) that serve a store after the queue changed, so a
//! command written straight into the store starts on time without anyone polling.

use crate::ports::command_queue::ControllerRecord;

pub trait ControllerWake: Send + Sync {
    /// Best effort: a controller that misses the wake still finds the change at its next
    /// wake-up (PostgreSQL also notifies its listeners on commit).
    fn wake(&self, controllers: &[ControllerRecord]);
}

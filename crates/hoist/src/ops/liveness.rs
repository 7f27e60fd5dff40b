//! Is a recorded runner still alive? Only answerable for processes on this machine.

use crate::hostside::proc_identity;
use crate::ports::host::LockHolder;

/// True when the holder ran on this machine and its process is gone.
pub fn holder_is_dead(holder: &LockHolder, machine: &str) -> bool {
    holder.machine == machine && !proc_identity::is_running(holder.pid)
}

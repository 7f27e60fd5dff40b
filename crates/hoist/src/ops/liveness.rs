//! Is a recorded runner still alive? Only answerable for processes on this machine.

use crate::ports::host::LockHolder;

/// Whether process `pid` exists here and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // Field 3 (state) follows the last `)`, which closes the command name.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

/// True when the holder ran on this machine and its process is gone.
pub fn holder_is_dead(holder: &LockHolder, machine: &str) -> bool {
    holder.machine == machine && !pid_alive(holder.pid)
}

//! The controller's own work for an environment on this machine — the store, hashing, the
//! host calls — runs at a lower CPU priority (nice + `LOWER_BY`), so on the host it shares
//! with the services it deploys it takes their CPU last. (For SSH hosts it does not: their
//! services run elsewhere.) What it starts that serves or that the user wrote (instances, the
//! proxy, the supervisor, hooks, `exec`) runs at the priority the controller had: Linux keeps
//! a nice value per thread and a child takes its spawning thread's, so the thread that spawns
//! one returns to that priority for the spawn (`NormalPriority`). Raising a priority again
//! takes the right to (root, or an RLIMIT_NICE that allows it); without it, or with
//! `HOIST_NICE=0`, the controller stays at its priority.

use std::sync::OnceLock;

use rustix::process::{Resource, geteuid, getpriority_process, getrlimit, setpriority_process};

/// How far the controller's priority goes down (nice 0 → 10: about a tenth of a normal
/// process's share of a busy CPU).
const LOWER_BY: i32 = 10;

/// The nice value the controller had before it first lowered a thread's.
static ORIGINAL: OnceLock<i32> = OnceLock::new();

/// Lowers the calling thread's priority, and so that of every thread it starts from then on
/// (a command's thread in `hoist serve`, the main thread of the CLI). Once per thread.
pub fn lower_for_controller() {
    if std::env::var_os("HOIST_NICE").is_some_and(|value| value == "0") {
        return;
    }
    let Ok(current) = getpriority_process(None) else {
        return;
    };
    let original = *ORIGINAL.get_or_init(|| current);
    if current != original || !can_raise_to(original) {
        return;
    }
    let lowered = (original + LOWER_BY).min(19);
    if lowered > original {
        let _ = setpriority_process(None, lowered);
    }
}

/// Back to the original priority for the calling thread (and those it starts from then on):
/// a command on SSH hosts has nothing here to yield to.
pub fn restore_for_controller() {
    let Some(&original) = ORIGINAL.get() else {
        return;
    };
    if getpriority_process(None).is_ok_and(|current| current != original) {
        let _ = setpriority_process(None, original);
    }
}

/// Whether this process may set its nice value back to `nice` once lowered.
fn can_raise_to(nice: i32) -> bool {
    if geteuid().is_root() {
        return true;
    }
    // RLIMIT_NICE's ceiling is `20 - limit`.
    let limit = getrlimit(Resource::Nice).current.unwrap_or(u64::MAX);
    i64::try_from(limit).map_or(true, |limit| 20 - limit <= i64::from(nice))
}

/// While alive, the calling thread runs at the controller's original priority: a process
/// spawned meanwhile starts there.
#[derive(Debug)]
pub struct NormalPriority {
    lowered: Option<i32>,
}

impl NormalPriority {
    pub fn for_spawn() -> Self {
        let Some(&original) = ORIGINAL.get() else {
            return Self { lowered: None };
        };
        if !can_raise_to(original) {
            return Self { lowered: None };
        }
        let lowered = getpriority_process(None)
            .ok()
            .filter(|&current| current != original && setpriority_process(None, original).is_ok());
        Self { lowered }
    }
}

impl Drop for NormalPriority {
    fn drop(&mut self) {
        if let Some(lowered) = self.lowered {
            let _ = setpriority_process(None, lowered);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test, in one process of its own (the unit tests run each in a process under
    /// nextest): the priority is the process's.
    #[test]
    fn the_controller_runs_lower_and_what_it_spawns_runs_at_the_original_priority() {
        let original = getpriority_process(None).unwrap();
        if !can_raise_to(original) || original > 9 {
            return;
        }
        lower_for_controller();
        assert_eq!(getpriority_process(None).unwrap(), original + LOWER_BY);
        let nice_of_child = || {
            let output = std::process::Command::new("sh")
                .args(["-c", "cut -d' ' -f19 /proc/self/stat"])
                .output()
                .unwrap();
            String::from_utf8(output.stdout)
                .unwrap()
                .trim()
                .parse::<i32>()
                .unwrap()
        };
        assert_eq!(
            nice_of_child(),
            original + LOWER_BY,
            "plain children are the controller's"
        );
        {
            let _normal = NormalPriority::for_spawn();
            assert_eq!(nice_of_child(), original);
        }
        assert_eq!(getpriority_process(None).unwrap(), original + LOWER_BY);
        // Threads started later inherit the lowered priority.
        let in_thread = std::thread::spawn(|| getpriority_process(None).unwrap())
            .join()
            .unwrap();
        assert_eq!(in_thread, original + LOWER_BY);
        // A command on SSH hosts takes its priority back.
        restore_for_controller();
        assert_eq!(getpriority_process(None).unwrap(), original);
        assert_eq!(nice_of_child(), original);
    }
}

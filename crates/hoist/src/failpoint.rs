//! Test-only crash points: when `HOIST_FAILPOINT` names a point, the process kills itself
//! there with SIGKILL, exactly as a crash or `kill -9` would. Tests use this to prove every
//! step boundary is recoverable. Unset, it costs one environment lookup per point.

/// Dies with SIGKILL if `HOIST_FAILPOINT` equals `name`.
pub fn hit(name: &str) {
    if std::env::var_os("HOIST_FAILPOINT").is_some_and(|point| point == name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

//! Which of the controller's environment variables a command hoist runs on the controller
//! (`[build] steps`, `[env.NAME.provision] command`) sees: a short allow-list of what a
//! shell and ordinary tools need, the names the spec passes explicitly (`pass_env`), and
//! nothing else. The controller's environment often holds cloud credentials, CI tokens,
//! `HOIST_TOKEN` and the spec's secrets; a build step has no business reading them unless
//! the spec says so. The variables hoist sets itself for such a command (`HOIST_ENV`) are
//! added by the caller and are not subject to this list.

/// Passed by name:
/// - `PATH`: to find the tools at all;
/// - `HOME`: where tools keep their configuration and caches (`~/.npmrc`, `~/.cargo`);
/// - `USER`, `LOGNAME`: who runs it, which some tools record or check;
/// - `LANG`, `TZ`: how text and times are read and written (and `LC_*`, below);
/// - `TERM`: what the output goes to (colour, width);
/// - `TMPDIR`: where temporary files go;
/// - `SHELL`: the shell a tool should spawn.
///
/// Not passed unless listed: `SSH_AUTH_SOCK` (the agent is a credential), proxies
/// (`HTTP_PROXY` may hold a password), CI and cloud variables, every `HOIST_*` of the
/// controller (`HOIST_TOKEN`, `HOIST_SECRET_KEY`).
pub const ALWAYS_PASSED: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "TERM", "TZ", "TMPDIR", "SHELL",
];

/// Locale categories (`LC_ALL`, `LC_CTYPE`, …) are passed like `LANG`.
const LOCALE_PREFIX: &str = "LC_";

/// Whether the controller's variable `name` reaches a controller-side command whose spec
/// passes `pass_env`.
pub fn passes(name: &str, pass_env: &[String]) -> bool {
    ALWAYS_PASSED.contains(&name)
        || (name.starts_with(LOCALE_PREFIX) && name.len() > LOCALE_PREFIX.len())
        || pass_env.iter().any(|passed| passed == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_the_basics_and_the_listed_names_only() {
        let pass_env = vec!["NPM_TOKEN".to_owned()];
        for name in [
            "PATH",
            "HOME",
            "LANG",
            "LC_ALL",
            "LC_CTYPE",
            "TZ",
            "NPM_TOKEN",
        ] {
            assert!(passes(name, &pass_env), "{name}");
        }
        for name in [
            "AWS_SECRET_ACCESS_KEY",
            "HOIST_TOKEN",
            "HOIST_SECRET_KEY",
            "SSH_AUTH_SOCK",
            "HTTP_PROXY",
            "LC_",
            "path",
            "NPM_TOKEN_2",
        ] {
            assert!(!passes(name, &pass_env), "{name}");
        }
    }
}

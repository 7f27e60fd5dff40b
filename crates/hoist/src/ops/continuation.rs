//! The command that continues a failed one, for hints: the exact arguments the CLI parses
//! (`releases remove dev ID`, `rollback dev --to ID`, `check dev --fix`), so a hint never
//! names a command that does not exist or does something else. `Context::continuation_line`
//! spells it with the invocation (`hoist -f ci/Hoist.toml`) and `--hosts` when given.

use std::time::Duration;

use hoist_core::shell::quote_if_needed;
use hoist_core::{Action, EnvName, HostAddress, ReleaseId, SshDestination};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    /// The arguments after `hoist`, unquoted.
    args: Vec<String>,
}

impl Continuation {
    pub fn new<S: Into<String>>(args: impl IntoIterator<Item = S>) -> Self {
        Self {
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// Running `action` again with no arguments but the environment, where that is the
    /// whole command; `None` for actions whose op must say more (`releases remove` needs the
    /// release, `maintenance` on or off, `register` its hosts).
    pub fn of(action: Action, env: &EnvName) -> Option<Self> {
        let env = env.as_str();
        Some(match action {
            Action::Create
            | Action::Provision
            | Action::Configure
            | Action::Release
            | Action::Run
            | Action::Deploy
            | Action::Rollback
            | Action::Restart
            | Action::Destroy => Self::new([action.as_str(), env]),
            Action::Prune => Self::new(["releases", "prune", env]),
            Action::Repair => Self::new(["check", env, "--fix"]),
            Action::Remove | Action::Maintenance | Action::Register | Action::Exec => return None,
        })
    }

    /// `deploy ENV`, with the flags that change what it does.
    pub fn deploy(env: &EnvName, adopt: bool, ttl: Option<Duration>) -> Self {
        let mut continuation = Self::new(["deploy", env.as_str()]);
        if let Some(ttl) = ttl {
            continuation = continuation.with(["--ttl", &format!("{}s", ttl.as_secs())]);
        }
        if adopt {
            continuation = continuation.with(["--adopt"]);
        }
        continuation
    }

    /// `rollback ENV --to ID`: after the target is known, the only exact way on (a bare
    /// `rollback` on a half-rolled-back fleet would pick another release, or none).
    pub fn rollback_to(env: &EnvName, id: &ReleaseId) -> Self {
        Self::new(["rollback", env.as_str(), "--to", id.as_str()])
    }

    /// `provision ENV --adopt`.
    pub fn provision_adopting(env: &EnvName) -> Self {
        Self::new(["provision", env.as_str(), "--adopt"])
    }

    /// `releases remove ENV ID`.
    pub fn remove(env: &EnvName, id: &ReleaseId) -> Self {
        Self::new(["releases", "remove", env.as_str(), id.as_str()])
    }

    /// `releases prune ENV [--keep N]`.
    pub fn prune(env: &EnvName, keep: Option<u32>) -> Self {
        let prune = Self::new(["releases", "prune", env.as_str()]);
        match keep {
            Some(keep) => prune.with(["--keep".to_owned(), keep.to_string()]),
            None => prune,
        }
    }

    /// `exec ENV -- COMMAND…`: the same one-off command again.
    pub fn exec(env: &EnvName, command: &[String]) -> Self {
        Self::new(["exec", env.as_str(), "--"]).with(command.iter().cloned())
    }

    /// `maintenance on|off ENV`.
    pub fn maintenance(env: &EnvName, on: bool) -> Self {
        Self::new(["maintenance", if on { "on" } else { "off" }, env.as_str()])
    }

    /// `register ENV --host A --host B [--jump J] [--remove]`.
    pub fn register(
        env: &EnvName,
        hosts: &[HostAddress],
        jump: Option<&SshDestination>,
        remove: bool,
    ) -> Self {
        let mut register = Self::new(["register", env.as_str()]);
        for host in hosts {
            register = register.with(["--host".to_owned(), host.to_string()]);
        }
        if let Some(jump) = jump {
            register = register.with(["--jump".to_owned(), jump.to_string()]);
        }
        if remove {
            register = register.with(["--remove"]);
        }
        register
    }

    pub fn with<S: Into<String>>(mut self, more: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(more.into_iter().map(Into::into));
        self
    }

    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The command line: `invocation` (`hoist`, `hoist -f PATH`), the arguments quoted for a
    /// shell, and `--hosts` when the command was limited to some (continuing must not widen it).
    pub fn line(&self, invocation: &str, hosts: &[HostAddress]) -> String {
        let mut words: Vec<String> = self.args.iter().map(|word| quote_if_needed(word)).collect();
        if !hosts.is_empty() {
            let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
            words.push("--hosts".to_owned());
            words.push(quote_if_needed(&hosts.join(",")));
        }
        format!("{invocation} {}", words.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_quoted_and_keep_the_hosts_they_were_limited_to() {
        let env: EnvName = "dev".parse().unwrap();
        let hosts: Vec<HostAddress> = vec![
            "local:/srv/a b".parse().unwrap(),
            "deploy@web1".parse().unwrap(),
        ];
        let remove = Continuation::remove(&env, &"20261121T235959Z-3f2a9c1d".parse().unwrap());
        assert_eq!(
            remove.line("hoist", &[]),
            "hoist releases remove dev 20261121T235959Z-3f2a9c1d"
        );
        assert_eq!(
            Continuation::deploy(&env, false, None).line("hoist -f 'my app/Hoist.toml'", &hosts),
            "hoist -f 'my app/Hoist.toml' deploy dev --hosts 'local:/srv/a b,deploy@web1'"
        );
        let register = Continuation::register(&env, &hosts[..1], None, false);
        assert_eq!(
            register.line("hoist", &[]),
            "hoist register dev --host 'local:/srv/a b'"
        );
    }
}

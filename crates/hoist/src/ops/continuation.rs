//! The command that continues a failed one, for hints: the exact arguments the CLI parses
//! (`releases remove dev ID`, `rollback dev --to ID`, `check dev --fix`), so a hint never
//! names a command that does not exist or does something else. `Context::continuation_line`
//! spells it with the invocation (`hoist -f ci/Hoist.toml`) and `--hosts` when given.

use std::time::Duration;

use hoist_core::{Action, EnvName, ReleaseId};

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
            | Action::Destroy => Self::new([action.as_str(), env]),
            Action::Prune => Self::new(["releases", "prune", env]),
            Action::Repair => Self::new(["check", env, "--fix"]),
            Action::Remove | Action::Maintenance | Action::Register => return None,
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

    pub fn with<S: Into<String>>(mut self, more: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(more.into_iter().map(Into::into));
        self
    }

    pub fn args(&self) -> &[String] {
        &self.args
    }
}

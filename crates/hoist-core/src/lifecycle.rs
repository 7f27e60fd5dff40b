//! The environment lifecycle: `created → provisioned → configured → released → running`, and
//! `destroyed`. One table says which action is allowed from which state and where it leads;
//! `deploy` runs the steps `steps_from` lists.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where an environment stands. An environment the store does not know is `None` where an
/// `Option<EnvState>` is taken.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum EnvState {
    Created,
    Provisioned,
    Configured,
    Released,
    Running,
    Destroyed,
}

/// One lifecycle step, as `deploy` runs them and as a failure records them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Create,
    Provision,
    Configure,
    Release,
    Run,
}

/// A state-changing action: what a command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Provision,
    Configure,
    Release,
    Run,
    Deploy,
    Rollback,
    Remove,
    Prune,
    Register,
    /// `maintenance on|off`: the proxy answers 503 (or serves again).
    Maintenance,
    /// `check --fix`: stop what no record owns, start a dead proxy.
    Repair,
    Destroy,
    /// `exec ENV -- CMD`: a one-off command in the live release of every host.
    Exec,
    /// `restart ENV`: the live release's instances started again (blue-green: swapped).
    Restart,
}

/// Why an action cannot run from a state, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} environment in state `{state}`: {reason}")]
pub struct Refusal {
    pub action: Action,
    pub state: StateLabel,
    pub reason: &'static str,
    pub hint: &'static str,
}

/// A state for messages, where `None` reads as `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateLabel(pub Option<EnvState>);

impl fmt::Display for StateLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(state) => state.fmt(f),
            None => f.write_str("unknown"),
        }
    }
}

impl EnvState {
    pub const ALL: [EnvState; 6] = [
        EnvState::Created,
        EnvState::Provisioned,
        EnvState::Configured,
        EnvState::Released,
        EnvState::Running,
        EnvState::Destroyed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Provisioned => "provisioned",
            Self::Configured => "configured",
            Self::Released => "released",
            Self::Running => "running",
            Self::Destroyed => "destroyed",
        }
    }

    /// The state a successful step leaves behind.
    pub fn after(step: Step) -> EnvState {
        match step {
            Step::Create => Self::Created,
            Step::Provision => Self::Provisioned,
            Step::Configure => Self::Configured,
            Step::Release => Self::Released,
            Step::Run => Self::Running,
        }
    }
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::Create,
        Step::Provision,
        Step::Configure,
        Step::Release,
        Step::Run,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Provision => "provision",
            Self::Configure => "configure",
            Self::Release => "release",
            Self::Run => "run",
        }
    }

    pub fn action(self) -> Action {
        match self {
            Self::Create => Action::Create,
            Self::Provision => Action::Provision,
            Self::Configure => Action::Configure,
            Self::Release => Action::Release,
            Self::Run => Action::Run,
        }
    }
}

impl Action {
    pub const ALL: [Action; 15] = [
        Action::Create,
        Action::Provision,
        Action::Configure,
        Action::Release,
        Action::Run,
        Action::Deploy,
        Action::Rollback,
        Action::Remove,
        Action::Prune,
        Action::Register,
        Action::Maintenance,
        Action::Repair,
        Action::Destroy,
        Action::Exec,
        Action::Restart,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Provision => "provision",
            Self::Configure => "configure",
            Self::Release => "release",
            Self::Run => "run",
            Self::Deploy => "deploy",
            Self::Rollback => "rollback",
            Self::Remove => "remove",
            Self::Prune => "prune",
            Self::Register => "register",
            Self::Maintenance => "maintenance",
            Self::Repair => "repair",
            Self::Destroy => "destroy",
            Self::Exec => "exec",
            Self::Restart => "restart",
        }
    }
}

/// The steps `deploy` runs from a state, in order. `Running` needs none; whether a changed
/// tree needs `release` + `run` is decided by the caller, who knows the content hashes.
pub fn steps_from(state: Option<EnvState>) -> &'static [Step] {
    use Step::*;
    match state {
        None | Some(EnvState::Destroyed) => &[Create, Provision, Configure, Release, Run],
        Some(EnvState::Created) => &[Provision, Configure, Release, Run],
        Some(EnvState::Provisioned) => &[Configure, Release, Run],
        Some(EnvState::Configured) => &[Release, Run],
        Some(EnvState::Released) => &[Run],
        Some(EnvState::Running) => &[],
    }
}

/// The lifecycle table: the state `action` leads to from `state`, or why it may not run.
pub fn transition(state: Option<EnvState>, action: Action) -> Result<EnvState, Refusal> {
    use EnvState::*;
    let refuse = |reason, hint| Refusal {
        action,
        state: StateLabel(state),
        reason,
        hint,
    };
    let unknown = || {
        refuse(
            "the environment does not exist",
            "create it with `hoist create ENV`, or run `hoist deploy ENV`",
        )
    };
    let destroyed = || {
        refuse(
            "the environment was destroyed",
            "create it again with `hoist create ENV`, or run `hoist deploy ENV`",
        )
    };
    match (action, state) {
        (Action::Deploy, _) => Ok(Running),
        (Action::Create, None | Some(Destroyed)) => Ok(Created),
        (Action::Create, Some(_)) => Err(refuse(
            "the environment already exists",
            "continue it with `hoist deploy ENV`",
        )),
        (_, None) => Err(unknown()),
        (_, Some(Destroyed)) => Err(destroyed()),
        (Action::Destroy, Some(_)) => Ok(Destroyed),
        (Action::Register | Action::Repair, Some(current)) => Ok(current),
        (Action::Provision, Some(current)) => Ok(current.max(Provisioned)),
        (
            Action::Configure | Action::Remove | Action::Prune | Action::Maintenance,
            Some(Created),
        ) => Err(refuse(
            "its hosts are not provisioned yet",
            "run `hoist provision ENV` first",
        )),
        (Action::Configure, Some(current)) => Ok(current.max(Configured)),
        (Action::Remove | Action::Prune | Action::Maintenance, Some(current)) => Ok(current),
        (Action::Release, Some(Configured | Released | Running)) => Ok(Released),
        (Action::Release, Some(_)) => Err(refuse(
            "it is not configured yet",
            "run `hoist configure ENV` first",
        )),
        (Action::Run | Action::Rollback, Some(Released | Running)) => Ok(Running),
        (Action::Run | Action::Rollback, Some(_)) => Err(refuse(
            "it has no release yet",
            "run `hoist release ENV` first, or `hoist deploy ENV`",
        )),
        (Action::Exec, Some(current @ (Released | Running))) => Ok(current),
        (Action::Exec, Some(_)) => Err(refuse(
            "it has no live release yet",
            "deploy it first with `hoist deploy ENV`",
        )),
        (Action::Restart, Some(Running)) => Ok(Running),
        (Action::Restart, Some(_)) => Err(refuse(
            "it is not running yet",
            "deploy it first with `hoist deploy ENV`",
        )),
    }
}

impl fmt::Display for EnvState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name `{0}`")]
pub struct UnknownName(pub String);

macro_rules! from_str_by_all {
    ($ty:ty) => {
        impl FromStr for $ty {
            type Err = UnknownName;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| UnknownName(text.to_owned()))
            }
        }
    };
}
from_str_by_all!(EnvState);
from_str_by_all!(Step);
from_str_by_all!(Action);

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole table, written out by hand: rows are states (`-` = unknown), columns are
    /// actions in `Action::ALL` order; a cell is the next state's initial, or `x` for refused.
    /// C created, P provisioned, F configured, R released, U running, D destroyed.
    #[rustfmt::skip]
    const TABLE: [(&str, &str); 7] = [
        //                  create prov conf rel run deploy rollback remove prune register maint repair destroy exec restart
        ("-",           "C      x    x    x   x   U      x        x      x     x        x     x      x       x    x"),
        ("created",     "x      P    x    x   x   U      x        x      x     C        x     C      D       x    x"),
        ("provisioned", "x      P    F    x   x   U      x        P      P     P        P     P      D       x    x"),
        ("configured",  "x      F    F    R   x   U      x        F      F     F        F     F      D       x    x"),
        ("released",    "x      R    R    R   U   U      U        R      R     R        R     R      D       R    x"),
        ("running",     "x      U    U    R   U   U      U        U      U     U        U     U      D       U    U"),
        ("destroyed",   "C      x    x    x   x   U      x        x      x     x        x     x      x       x    x"),
    ];

    fn state_of(letter: &str) -> Option<EnvState> {
        Some(match letter {
            "C" => EnvState::Created,
            "P" => EnvState::Provisioned,
            "F" => EnvState::Configured,
            "R" => EnvState::Released,
            "U" => EnvState::Running,
            "D" => EnvState::Destroyed,
            _ => return None,
        })
    }

    #[test]
    fn every_state_times_every_action_matches_the_table() {
        for (state_name, row) in TABLE {
            let state = if state_name == "-" {
                None
            } else {
                Some(state_name.parse::<EnvState>().unwrap())
            };
            let cells: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cells.len(), Action::ALL.len());
            for (action, cell) in Action::ALL.into_iter().zip(cells) {
                let got = transition(state, action).ok();
                assert_eq!(got, state_of(cell), "{state_name} × {action}");
            }
        }
    }

    #[test]
    fn refusals_carry_a_hint_naming_a_command() {
        for state in [None].into_iter().chain(EnvState::ALL.map(Some)) {
            for action in Action::ALL {
                if let Err(refusal) = transition(state, action) {
                    assert!(
                        refusal.hint.contains("`hoist "),
                        "{refusal}: {}",
                        refusal.hint
                    );
                }
            }
        }
    }

    #[test]
    fn steps_from_follow_the_lifecycle_order() {
        assert_eq!(steps_from(None), Step::ALL);
        assert_eq!(steps_from(Some(EnvState::Created)), &Step::ALL[1..]);
        assert!(steps_from(Some(EnvState::Running)).is_empty());
        // Running each listed step from its state always leads to `running`.
        for state in [None].into_iter().chain(EnvState::ALL.map(Some)) {
            let mut current = state;
            for step in steps_from(state) {
                current = Some(transition(current, step.action()).unwrap());
            }
            assert_eq!(current, Some(EnvState::Running), "from {state:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>(), Ok(action));
        }
        for state in EnvState::ALL {
            assert_eq!(state.as_str().parse::<EnvState>(), Ok(state));
        }
    }
}

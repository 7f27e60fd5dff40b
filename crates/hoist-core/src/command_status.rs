//! Command status: `scheduled → running → succeeded | failed | interrupted`, and
//! `cancelled` or `expired` for a command that never started.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::lifecycle::UnknownName;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommandStatus {
    Scheduled,
    Running,
    Succeeded,
    Failed,
    /// The runner died (crash, kill) while the command ran; the next call resumes it.
    Interrupted,
    Cancelled,
    Expired,
}

impl CommandStatus {
    pub const ALL: [CommandStatus; 7] = [
        Self::Scheduled,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Interrupted,
        Self::Cancelled,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Scheduled | Self::Running)
    }

    /// Whether a command may move from `self` to `next`.
    pub fn can_become(self, next: CommandStatus) -> bool {
        use CommandStatus::*;
        matches!(
            (self, next),
            (Scheduled, Running | Cancelled | Expired)
                | (Running, Succeeded | Failed | Interrupted)
                // A controller resumes a command whose controller died.
                | (Interrupted, Running)
        )
    }
}

impl fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CommandStatus {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == text)
            .ok_or_else(|| UnknownName(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_go_nowhere_but_an_interrupted_command_resumes() {
        for from in CommandStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in CommandStatus::ALL {
                let resume = (from, to) == (CommandStatus::Interrupted, CommandStatus::Running);
                assert_eq!(from.can_become(to), resume, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn round_trips_names() {
        for status in CommandStatus::ALL {
            assert_eq!(status.as_str().parse::<CommandStatus>(), Ok(status));
        }
    }
}

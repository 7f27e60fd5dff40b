//! What a state-changing op reports: one shape for all of them, printed as text or JSON.

use hoist_core::{Action, EnvName, EnvState, ReleaseId};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandOutcome {
    pub command_id: i64,
    pub action: Action,
    pub env: EnvName,
    pub state: Option<EnvState>,
    /// Labels of the steps that ran, in order.
    pub steps: Vec<String>,
    /// The release this command made or switched to, if any.
    pub release: Option<ReleaseId>,
    pub live_release: Option<ReleaseId>,
    /// Where the service answers, when it has one.
    pub url: Option<String>,
    /// True when there was nothing to do.
    pub unchanged: bool,
    /// One human sentence.
    pub message: String,
}

//! What `deploy` has left to do: the lifecycle steps after the recorded state, and — for an
//! environment that already has releases — whether the wanted content and configuration
//! need a new release, only a run, or nothing at all.

use serde::{Deserialize, Serialize};

use crate::lifecycle::{EnvState, Step, steps_from};

/// What a release is made of: the source tree and the (non-secret) configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContentKey {
    pub content_hash: String,
    pub config_hash: String,
}

/// What the controller knows when planning a deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployInputs {
    pub state: Option<EnvState>,
    /// What the spec and tree ask for now.
    pub wanted: ContentKey,
    /// What the live release was made of, if one is live.
    pub live: Option<ContentKey>,
    /// What the ready-but-not-yet-run release was made of, if there is one.
    pub pending: Option<ContentKey>,
    /// Some host does not serve the live release yet (registered since, or it was down).
    pub hosts_behind: bool,
}

/// The steps `deploy` runs, in order; empty when everything is already as wanted.
pub fn deploy_plan(inputs: &DeployInputs) -> Vec<Step> {
    let base = steps_from(inputs.state);
    if !matches!(inputs.state, Some(EnvState::Released | EnvState::Running)) {
        return base.to_vec();
    }
    if inputs.pending.as_ref() == Some(&inputs.wanted) {
        return vec![Step::Run];
    }
    if inputs.pending.is_none() && inputs.live.as_ref() == Some(&inputs.wanted) {
        if inputs.hosts_behind && base.is_empty() {
            // A host joined or fell behind: lay it out, configure it, release and run there.
            return vec![Step::Provision, Step::Configure, Step::Release, Step::Run];
        }
        return base.to_vec();
    }
    let configured_hash = inputs
        .pending
        .as_ref()
        .or(inputs.live.as_ref())
        .map(|key| &key.config_hash);
    let mut plan = Vec::with_capacity(3);
    if configured_hash != Some(&inputs.wanted.config_hash) {
        plan.push(Step::Configure);
    }
    plan.extend([Step::Release, Step::Run]);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(content: &str, config: &str) -> ContentKey {
        ContentKey {
            content_hash: content.into(),
            config_hash: config.into(),
        }
    }

    fn plan(
        state: Option<EnvState>,
        live: Option<ContentKey>,
        pending: Option<ContentKey>,
    ) -> Vec<Step> {
        deploy_plan(&DeployInputs {
            state,
            wanted: key("a", "c"),
            live,
            pending,
            hosts_behind: false,
        })
    }

    #[test]
    fn fresh_environment_runs_every_step() {
        assert_eq!(plan(None, None, None), Step::ALL.to_vec());
        assert_eq!(plan(Some(EnvState::Created), None, None).len(), 4);
    }

    #[test]
    fn running_and_unchanged_is_a_no_op() {
        assert!(plan(Some(EnvState::Running), Some(key("a", "c")), None).is_empty());
    }

    #[test]
    fn a_host_behind_brings_every_step_back() {
        let inputs = DeployInputs {
            state: Some(EnvState::Running),
            wanted: key("a", "c"),
            live: Some(key("a", "c")),
            pending: None,
            hosts_behind: true,
        };
        assert_eq!(
            deploy_plan(&inputs),
            [Step::Provision, Step::Configure, Step::Release, Step::Run]
        );
    }

    #[test]
    fn changed_tree_releases_and_runs() {
        assert_eq!(
            plan(Some(EnvState::Running), Some(key("b", "c")), None),
            [Step::Release, Step::Run]
        );
    }

    #[test]
    fn changed_config_reconfigures_first() {
        assert_eq!(
            plan(Some(EnvState::Running), Some(key("a", "old")), None),
            [Step::Configure, Step::Release, Step::Run]
        );
    }

    #[test]
    fn matching_pending_release_only_runs() {
        assert_eq!(
            plan(
                Some(EnvState::Released),
                Some(key("b", "c")),
                Some(key("a", "c"))
            ),
            [Step::Run]
        );
    }

    #[test]
    fn stale_pending_release_is_replaced() {
        assert_eq!(
            plan(
                Some(EnvState::Released),
                Some(key("b", "c")),
                Some(key("x", "c"))
            ),
            [Step::Release, Step::Run]
        );
    }

    #[test]
    fn released_without_pending_but_live_as_wanted_runs() {
        assert_eq!(
            plan(Some(EnvState::Released), Some(key("a", "c")), None),
            [Step::Run]
        );
    }
}

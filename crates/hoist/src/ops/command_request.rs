//! A state-changing command as data: what `--at`/`--in` and `POST /api/commands` store as
//! a scheduled command's arguments, and what a controller runs when its time comes — by
//! calling the very op the CLI calls.

use hoist_core::{Action, EnvName, ReleaseId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ops::context::Context;
use crate::ops::outcome::CommandOutcome;
use crate::ops::{self};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum CommandRequest {
    Create {
        env: EnvName,
    },
    Provision {
        env: EnvName,
        /// Accept deploy roots that hold files hoist did not put there.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        adopt: bool,
    },
    Configure {
        env: EnvName,
    },
    Release {
        env: EnvName,
    },
    Run {
        env: EnvName,
    },
    Deploy {
        env: EnvName,
        /// Schedule the environment's `destroy` this many seconds after a success.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl_seconds: Option<u64>,
        /// Accept deploy roots that hold files hoist did not put there.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        adopt: bool,
    },
    Rollback {
        env: EnvName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<ReleaseId>,
    },
    Remove {
        env: EnvName,
        id: ReleaseId,
    },
    Prune {
        env: EnvName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep: Option<u32>,
    },
    Maintenance {
        env: EnvName,
        on: bool,
    },
    Restart {
        env: EnvName,
    },
    Destroy {
        env: EnvName,
        /// Also remove the environment's container volumes (kept by default).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        volumes: bool,
    },
}

impl CommandRequest {
    pub fn action(&self) -> Action {
        match self {
            Self::Create { .. } => Action::Create,
            Self::Provision { .. } => Action::Provision,
            Self::Configure { .. } => Action::Configure,
            Self::Release { .. } => Action::Release,
            Self::Run { .. } => Action::Run,
            Self::Deploy { .. } => Action::Deploy,
            Self::Rollback { .. } => Action::Rollback,
            Self::Remove { .. } => Action::Remove,
            Self::Prune { .. } => Action::Prune,
            Self::Maintenance { .. } => Action::Maintenance,
            Self::Restart { .. } => Action::Restart,
            Self::Destroy { .. } => Action::Destroy,
        }
    }

    pub fn env(&self) -> &EnvName {
        match self {
            Self::Create { env }
            | Self::Provision { env, .. }
            | Self::Configure { env }
            | Self::Release { env }
            | Self::Run { env }
            | Self::Deploy { env, .. }
            | Self::Rollback { env, .. }
            | Self::Remove { env, .. }
            | Self::Prune { env, .. }
            | Self::Maintenance { env, .. }
            | Self::Restart { env }
            | Self::Destroy { env, .. } => env,
        }
    }

    /// Runs the op this request names, as the CLI would.
    pub fn execute(&self, ctx: &Context<'_>) -> Result<CommandOutcome> {
        let env = self.env().clone();
        match self {
            Self::Create { .. } => ops::create(ctx, &ops::CreateOptions { env }),
            Self::Provision { adopt, .. } => {
                ops::provision(ctx, &ops::ProvisionOptions { env, adopt: *adopt })
            }
            Self::Configure { .. } => ops::configure(ctx, &ops::ConfigureOptions { env }),
            Self::Release { .. } => ops::release(ctx, &ops::ReleaseOptions { env }),
            Self::Run { .. } => ops::run(ctx, &ops::RunOptions { env }),
            Self::Deploy {
                ttl_seconds, adopt, ..
            } => ops::deploy(
                ctx,
                &ops::DeployOptions {
                    env,
                    ttl: ttl_seconds.map(std::time::Duration::from_secs),
                    adopt: *adopt,
                },
            ),
            Self::Rollback { to, .. } => ops::rollback(
                ctx,
                &ops::RollbackOptions {
                    env,
                    to: to.clone(),
                },
            ),
            Self::Remove { id, .. } => ops::remove_release(
                ctx,
                &ops::RemoveReleaseOptions {
                    env,
                    id: id.clone(),
                },
            ),
            Self::Prune { keep, .. } => ops::prune(ctx, &ops::PruneOptions { env, keep: *keep }),
            Self::Maintenance { on, .. } => {
                ops::maintenance(ctx, &ops::MaintenanceOptions { env, on: *on })
            }
            Self::Restart { .. } => ops::restart(ctx, &ops::RestartOptions { env }),
            Self::Destroy { volumes, .. } => ops::destroy(
                ctx,
                &ops::DestroyOptions {
                    env,
                    volumes: *volumes,
                },
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_tagged_json() -> Result<(), Box<dyn std::error::Error>> {
        let request = CommandRequest::Rollback {
            env: "prod".parse()?,
            to: Some("20261121T235901Z-abcdef12".parse()?),
        };
        let json = serde_json::to_value(&request)?;
        assert_eq!(json["kind"], "rollback");
        assert_eq!(json["env"], "prod");
        assert_eq!(serde_json::from_value::<CommandRequest>(json)?, request);
        Ok(())
    }

    #[test]
    fn unknown_kinds_and_fields_are_refused() {
        let unknown = serde_json::json!({ "kind": "explode", "env": "prod" });
        assert!(serde_json::from_value::<CommandRequest>(unknown).is_err());
        let extra = serde_json::json!({ "kind": "deploy", "env": "prod", "force": true });
        assert!(serde_json::from_value::<CommandRequest>(extra).is_err());
    }
}

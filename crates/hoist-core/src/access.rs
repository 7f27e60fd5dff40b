//! Who may do what: API token roles, optionally limited to named environments, and the one
//! function that decides whether a grant covers a need. Pure: the server asks it before it
//! stores anything, and a controller asks it again when a scheduled command runs.
//!
//! - `viewer` reads: environments, commands, events.
//! - `deployer` reads, and acts with everything a deploy is made of — `create`,
//!   `provision`, `configure`, `release`, `run`, `deploy`, `rollback`, `maintenance`,
//!   removing and pruning releases, and `check --fix` (which only restores what was
//!   recorded). Not `destroy`, and not `register` (which changes what machines get code).
//! - `admin` does everything, including `destroy`, `register`, tokens and webhooks.
//!
//! A grant limited to environments refuses every other environment, and reads that name
//! no environment (the global timeline, token events) are for unlimited grants only; lists
//! are filtered with `Grant::covers`.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Action, EnvName};

/// The longest token name.
pub const TOKEN_NAME_MAX: usize = 64;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Deployer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Deployer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Deployer => "deployer",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`")]
pub struct RoleError(pub String);

impl RoleError {
    pub fn hint(&self) -> &'static str {
        "a role is `viewer` (read), `deployer` (read, deploy, rollback, run) or `admin` (everything)"
    }
}

impl FromStr for Role {
    type Err = RoleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| RoleError(text.to_owned()))
    }
}

/// What a token may do: a role, and the environments it is limited to (empty: all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub role: Role,
    pub envs: Vec<EnvName>,
}

impl Grant {
    /// Whether this grant reaches environment `env` (`None`: something of no environment).
    pub fn covers(&self, env: Option<&EnvName>) -> bool {
        match env {
            _ if self.envs.is_empty() => true,
            Some(env) => self.envs.contains(env),
            None => false,
        }
    }
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Read about one environment, or (`None`) list across all of them, filtered by the caller.
    Read {
        env: Option<EnvName>,
    },
    /// Run (or schedule, cancel, reschedule) `action` on `env`.
    Act {
        action: Action,
        env: EnvName,
    },
    ManageTokens,
    ManageWebhooks,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Denied {
    pub reason: String,
}

/// Whether `role` may run `action` anywhere it reaches.
pub fn role_may(role: Role, action: Action) -> bool {
    match role {
        Role::Admin => true,
        Role::Viewer => false,
        Role::Deployer => match action {
            Action::Create
            | Action::Provision
            | Action::Configure
            | Action::Release
            | Action::Run
            | Action::Deploy
            | Action::Rollback
            | Action::Remove
            | Action::Prune
            | Action::Maintenance
            | Action::Repair
            | Action::Exec
            | Action::Restart => true,
            Action::Register | Action::Destroy => false,
        },
    }
}

/// Decides whether `grant` covers `need`; the refusal says why.
pub fn permits(grant: &Grant, need: &Need) -> Result<(), Denied> {
    let env = match need {
        Need::Read { env } => env.as_ref(),
        Need::Act { env, .. } => Some(env),
        Need::ManageTokens | Need::ManageWebhooks => None,
    };
    if let Some(env) = env
        && !grant.covers(Some(env))
    {
        return Err(denied(format!(
            "this token is limited to {} and cannot reach `{env}`",
            names(&grant.envs)
        )));
    }
    match need {
        Need::Read { .. } => Ok(()),
        Need::Act { action, .. } if role_may(grant.role, *action) => Ok(()),
        Need::Act { action, env } => Err(denied(format!(
            "a `{}` token cannot {action} `{env}`{}",
            grant.role,
            match grant.role {
                Role::Viewer => " (viewers only read)",
                _ => " (that needs `admin`)",
            }
        ))),
        Need::ManageTokens | Need::ManageWebhooks if grant.role != Role::Admin => {
            Err(denied(format!(
                "a `{}` token cannot manage {}: that needs `admin`",
                grant.role,
                if *need == Need::ManageTokens {
                    "tokens"
                } else {
                    "webhooks"
                }
            )))
        }
        Need::ManageTokens | Need::ManageWebhooks if !grant.envs.is_empty() => Err(denied(
            "a token limited to environments cannot manage tokens or webhooks".to_owned(),
        )),
        Need::ManageTokens | Need::ManageWebhooks => Ok(()),
    }
}

fn denied(reason: String) -> Denied {
    Denied { reason }
}

fn names(envs: &[EnvName]) -> String {
    let quoted: Vec<String> = envs.iter().map(|env| format!("`{env}`")).collect();
    quoted.join(", ")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid token name `{0}`")]
pub struct TokenNameError(pub String);

impl TokenNameError {
    pub fn hint(&self) -> String {
        format!(
            "a token name is 1 to {TOKEN_NAME_MAX} lowercase letters, digits and `-`, e.g. `ci-staging`"
        )
    }
}

/// Checks a token name: 1 to 64 of `a-z`, `0-9`, `-`.
pub fn check_token_name(name: &str) -> Result<(), TokenNameError> {
    let valid = !name.is_empty()
        && name.len() <= TOKEN_NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(TokenNameError(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> EnvName {
        name.parse()
            .unwrap_or_else(|error| panic!("bad fixture: {error}"))
    }

    fn grant(role: Role, envs: &[&str]) -> Grant {
        Grant {
            role,
            envs: envs.iter().map(|name| env(name)).collect(),
        }
    }

    fn act(action: Action, name: &str) -> Need {
        Need::Act {
            action,
            env: env(name),
        }
    }

    #[test]
    fn viewers_read_and_nothing_else() {
        let viewer = grant(Role::Viewer, &[]);
        assert_eq!(permits(&viewer, &Need::Read { env: None }), Ok(()));
        assert_eq!(
            permits(
                &viewer,
                &Need::Read {
                    env: Some(env("prod"))
                }
            ),
            Ok(())
        );
        for action in Action::ALL {
            let refused = permits(&viewer, &act(action, "prod"));
            assert!(refused.is_err(), "viewer may {action}");
        }
        assert!(permits(&viewer, &Need::ManageTokens).is_err());
        assert!(permits(&viewer, &Need::ManageWebhooks).is_err());
    }

    #[test]
    fn deployers_deploy_but_never_destroy_register_or_manage() {
        let deployer = grant(Role::Deployer, &[]);
        for action in Action::ALL {
            let expected = !matches!(action, Action::Destroy | Action::Register);
            assert_eq!(
                permits(&deployer, &act(action, "staging")).is_ok(),
                expected,
                "deployer and {action}"
            );
        }
        let refused = permits(&deployer, &act(Action::Destroy, "staging"));
        assert_eq!(
            refused.map_err(|denied| denied.reason),
            Err("a `deployer` token cannot destroy `staging` (that needs `admin`)".to_owned())
        );
        assert!(permits(&deployer, &Need::ManageTokens).is_err());
    }

    #[test]
    fn admins_do_everything() {
        let admin = grant(Role::Admin, &[]);
        for action in Action::ALL {
            assert_eq!(permits(&admin, &act(action, "prod")), Ok(()));
        }
        assert_eq!(permits(&admin, &Need::ManageTokens), Ok(()));
        assert_eq!(permits(&admin, &Need::ManageWebhooks), Ok(()));
    }

    #[test]
    fn limited_grants_refuse_other_environments() {
        let staging = grant(Role::Admin, &["staging", "preview-1"]);
        assert_eq!(permits(&staging, &act(Action::Destroy, "staging")), Ok(()));
        assert_eq!(
            permits(&staging, &act(Action::Deploy, "prod")).map_err(|d| d.reason),
            Err(
                "this token is limited to `staging`, `preview-1` and cannot reach `prod`"
                    .to_owned()
            )
        );
        assert!(
            permits(
                &staging,
                &Need::Read {
                    env: Some(env("prod"))
                }
            )
            .is_err()
        );
        assert_eq!(permits(&staging, &Need::Read { env: None }), Ok(()));
        assert!(
            permits(&staging, &Need::ManageTokens).is_err(),
            "a limited admin cannot mint unlimited tokens"
        );
        assert!(staging.covers(Some(&env("preview-1"))));
        assert!(!staging.covers(None), "global events are not theirs");
        assert!(grant(Role::Viewer, &[]).covers(None));
    }

    #[test]
    fn roles_parse_and_print() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn token_names_are_short_lowercase_words() {
        for good in ["ci", "ci-staging", "deploy-bot-2", &"a".repeat(64)] {
            assert_eq!(check_token_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "CI",
            "ci staging",
            "ci_bot",
            "ci/bot",
            "é",
            &"a".repeat(65),
        ] {
            assert!(check_token_name(bad).is_err(), "{bad:?}");
        }
    }
}

//! An environment's actions: `GET /env/{env}/confirm?action=…` names what will happen,
//! `POST /env/{env}/act` (its form) records the command to run now — through the same
//! `commands::schedule` as the API and the CLI — and goes to the command's page, where it
//! shows live. The token's permission is checked here and again when the command runs.

use std::time::Duration;

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use hoist_core::access::Need;
use hoist_core::schedule::{DEFAULT_START_WITHIN, When};
use hoist_core::{EnvName, ReleaseId};
use serde::Deserialize;

use crate::ops::command_request::CommandRequest;
use crate::ops::commands::{self, ScheduleOptions};
use crate::ops::tokens;
use crate::server::api_input::path;
use crate::server::api_state::ApiState;
use crate::server::dashboard::acting::Acting;
use crate::server::dashboard::layout::Layout;
use crate::server::dashboard::page_error::{PageError, PageResult};
use crate::server::dashboard::render::render;
use crate::server::dashboard::sign_in::redirect;
use crate::server::dashboard::viewer::Viewer;

#[derive(Debug, Clone, Deserialize)]
pub struct ActionChoice {
    #[serde(default)]
    action: String,
    /// A release id (rollback only); empty: the one before live.
    #[serde(default)]
    to: String,
}

impl ActionChoice {
    pub fn new(action: &str, to: &str) -> Self {
        Self {
            action: action.to_owned(),
            to: to.to_owned(),
        }
    }

    /// The command this choice records, with what it will do in words.
    pub fn request(&self, env: &EnvName) -> PageResult<(CommandRequest, String)> {
        let env = env.clone();
        let to = match self.to.trim() {
            "" => None,
            id => Some(id.parse::<ReleaseId>().map_err(|error| {
                PageError::bad_request(format!("`{id}` is not a release id: {error}"))
            })?),
        };
        Ok(match self.action.as_str() {
            "deploy" => (
                CommandRequest::Deploy {
                    ttl_seconds: None,
                    adopt: false,
                    env: env.clone(),
                },
                format!(
                    "Deploy {env}: run the steps left, and release the project as it is now if it changed."
                ),
            ),
            "rollback" => {
                let what = match &to {
                    Some(id) => {
                        format!("Roll {env} back to release {id}: switch live to it and run it.")
                    }
                    None => format!(
                        "Roll {env} back to the release before live: switch live to it and run it."
                    ),
                };
                (CommandRequest::Rollback { env, to }, what)
            }
            "restart" => (
                CommandRequest::Restart { env: env.clone() },
                format!(
                    "Restart {env}'s service on every host (blue-green through the free slot; recreate in place)."
                ),
            ),
            "maintenance-on" => (
                CommandRequest::Maintenance {
                    env: env.clone(),
                    on: true,
                },
                format!(
                    "Put {env} in maintenance: the proxy answers 503 with the maintenance page until it is turned off."
                ),
            ),
            "maintenance-off" => (
                CommandRequest::Maintenance {
                    env: env.clone(),
                    on: false,
                },
                format!("Take {env} out of maintenance: the proxy forwards to the service again."),
            ),
            other => {
                return Err(
                    PageError::bad_request(format!("there is no action `{other}`"))
                        .hint("deploy, rollback, restart, maintenance-on or maintenance-off"),
                );
            }
        })
    }
}

#[derive(Template)]
#[template(path = "dashboard/confirm.html")]
struct ConfirmPage {
    layout: Layout,
    env: EnvName,
    choice_action: String,
    choice_to: String,
    what: String,
    button: String,
}

pub async fn confirm(
    viewer: Viewer,
    env: Result<Path<String>, PathRejection>,
    Query(choice): Query<ActionChoice>,
) -> PageResult<Response> {
    let env: EnvName = path(env, "environment name")?;
    let (request, what) = choice.request(&env)?;
    let caller = viewer.caller();
    for need in tokens::needs(&request) {
        caller.require(&need)?;
    }
    let button = match choice.action.as_str() {
        "maintenance-on" => "Turn maintenance on".to_owned(),
        "maintenance-off" => "Turn maintenance off".to_owned(),
        action => format!("{} {env} now", capitalized(action)),
    };
    Ok(render(&ConfirmPage {
        layout: Layout::new(format!("Confirm: {what}"), "environments", &viewer),
        env,
        choice_action: choice.action.clone(),
        choice_to: choice.to.clone(),
        what,
        button,
    }))
}

pub async fn act(
    State(state): State<ApiState>,
    env: Result<Path<String>, PathRejection>,
    acting: Acting<ActionChoice>,
) -> PageResult<Response> {
    let env: EnvName = path(env, "environment name")?;
    let caller = acting.viewer.caller();
    caller.require(&Need::Read {
        env: Some(env.clone()),
    })?;
    let (request, _) = acting.form.request(&env)?;
    for need in tokens::needs(&request) {
        caller.require(&need)?;
    }
    let options = ScheduleOptions {
        request,
        when: When::In(Duration::ZERO),
        start_within: DEFAULT_START_WITHIN,
        requested_token: Some(caller.token.id),
        requested_by: Some(caller.actor()),
    };
    let scheduled = state
        .run(Some(caller.actor()), move |ctx| {
            commands::schedule(ctx, &options)
        })
        .await?;
    Ok(redirect(&format!("/commands/{}", scheduled.command.id)))
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

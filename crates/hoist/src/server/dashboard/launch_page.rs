//! `GET /launch` and `POST /launch`: start a command now or at a date and time picked in the
//! viewer's zone (shown in that zone and in UTC), with the window it may start within and,
//! for a deploy, a TTL after which the environment is destroyed. Before recording it, hoist
//! checks what it can (`ops::preflight`): what it finds is shown as warnings, and the command
//! can still be scheduled. The token's permission is checked now and again at run time.

use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hoist_core::access::Need;
use hoist_core::duration::parse_duration;
use hoist_core::schedule::{self, DEFAULT_START_WITHIN, When};
use hoist_core::{Action, EnvName};
use jiff::Timestamp;
use serde::Deserialize;

use crate::ops::command_request::CommandRequest;
use crate::ops::commands::{self, ScheduleOptions};
use crate::ops::preflight::preflight;
use crate::ops::tokens;
use crate::server::api_error::ApiError;
use crate::server::api_state::ApiState;
use crate::server::dashboard::acting::Acting;
use crate::server::dashboard::actions::ActionChoice;
use crate::server::dashboard::layout::Layout;
use crate::server::dashboard::page_error::{PageError, PageResult};
use crate::server::dashboard::render::{render, render_with_status};
use crate::server::dashboard::sign_in::redirect;
use crate::server::dashboard::viewer::Viewer;
use crate::server::dashboard::when_input::{COMMON_ZONES, parse_when};

/// The actions the launch page offers.
const ACTIONS: [(&str, &str); 5] = [
    ("deploy", "Deploy"),
    ("rollback", "Roll back"),
    ("restart", "Restart"),
    ("maintenance-on", "Maintenance on"),
    ("maintenance-off", "Maintenance off"),
];

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LaunchForm {
    #[serde(default)]
    env: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    to: String,
    /// `now` or `at`.
    #[serde(default)]
    when: String,
    #[serde(default)]
    at: String,
    #[serde(default)]
    zone: String,
    #[serde(default)]
    start_within: String,
    #[serde(default)]
    ttl: String,
    /// Set by "schedule anyway" after warnings.
    #[serde(default)]
    confirmed: String,
}

#[derive(Template)]
#[template(path = "dashboard/launch.html")]
struct LaunchPage {
    layout: Layout,
    envs: Vec<String>,
    actions: Vec<(&'static str, &'static str)>,
    zones: Vec<&'static str>,
    form: LaunchForm,
    warnings: Vec<String>,
    error: Option<String>,
}

pub async fn page(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(form): Query<LaunchForm>,
) -> PageResult<Response> {
    let envs = actable_envs(&state, &viewer).await?;
    let mut form = form;
    if form.when.is_empty() {
        form.when = "now".to_owned();
    }
    Ok(render(&LaunchPage {
        layout: Layout::new("Launch", "launch", &viewer),
        envs,
        actions: ACTIONS.to_vec(),
        zones: COMMON_ZONES.to_vec(),
        form,
        warnings: Vec::new(),
        error: None,
    }))
}

pub async fn launch(
    State(state): State<ApiState>,
    acting: Acting<LaunchForm>,
) -> PageResult<Response> {
    let viewer = acting.viewer;
    let form = acting.form;
    let envs = actable_envs(&state, &viewer).await?;
    let again = |warnings: Vec<String>, error: Option<String>, status: StatusCode| {
        render_with_status(
            status,
            &LaunchPage {
                layout: Layout::new("Launch", "launch", &viewer),
                envs: envs.clone(),
                actions: ACTIONS.to_vec(),
                zones: COMMON_ZONES.to_vec(),
                form: form.clone(),
                warnings,
                error,
            },
        )
    };
    let prepared = match prepare(&form) {
        Ok(prepared) => prepared,
        Err(PageError::Failed(error)) => {
            return Ok(again(Vec::new(), Some(message(&error)), error.status));
        }
        Err(other) => return Err(other),
    };
    let caller = viewer.caller();
    for need in tokens::needs(&prepared.request) {
        if let Err(error) = caller.require(&need) {
            return Ok(again(Vec::new(), Some(message(&error)), error.status));
        }
    }
    let request = prepared.request.clone();
    let warnings = match form.confirmed.as_str() {
        "yes" => Vec::new(),
        _ => state.run(None, move |ctx| preflight(ctx, &request)).await?,
    };
    if !warnings.is_empty() {
        return Ok(again(warnings, None, StatusCode::OK));
    }
    let options = ScheduleOptions {
        request: prepared.request,
        when: prepared.when,
        start_within: prepared.start_within,
        requested_token: Some(caller.token.id),
        requested_by: Some(caller.actor()),
    };
    let scheduled = state
        .run_raw(Some(caller.actor()), move |ctx| {
            commands::schedule(ctx, &options)
                .map_err(|error| ApiError::from_error(&error, StatusCode::UNPROCESSABLE_ENTITY))
        })
        .await;
    match scheduled {
        Ok(scheduled) => Ok(redirect(&format!("/commands/{}", scheduled.command.id))),
        Err(error) if error.status.is_client_error() => {
            Ok(again(Vec::new(), Some(message(&error)), error.status))
        }
        Err(error) => Err(PageError::Failed(error)),
    }
}

struct Prepared {
    request: CommandRequest,
    when: When,
    start_within: Duration,
}

fn prepare(form: &LaunchForm) -> Result<Prepared, PageError> {
    let env: EnvName = form.env.trim().parse().map_err(|error| {
        PageError::bad_request(format!(
            "`{}` is not an environment name: {error}",
            form.env
        ))
        .hint("pick one of the list")
    })?;
    let choice = ActionChoice::new(&form.action, &form.to);
    let (mut request, _) = choice.request(&env)?;
    let duration = |text: &str, what: &str| -> Result<Option<Duration>, PageError> {
        match text.trim() {
            "" => Ok(None),
            text => parse_duration(text).map(Some).map_err(|error| {
                PageError::bad_request(format!("{what}: {error}")).hint("e.g. 15m, 2h or 1d")
            }),
        }
    };
    let start_within =
        duration(&form.start_within, "start within")?.unwrap_or(DEFAULT_START_WITHIN);
    if let Some(ttl) = duration(&form.ttl, "TTL")? {
        match &mut request {
            CommandRequest::Deploy { ttl_seconds, .. } => *ttl_seconds = Some(ttl.as_secs().max(1)),
            _ => {
                return Err(PageError::bad_request("only a deploy takes a TTL")
                    .hint("leave the TTL empty for this action"));
            }
        }
    }
    let when = match form.when.as_str() {
        "" | "now" => When::In(Duration::ZERO),
        "at" => When::At(parse_when(&form.at, &form.zone)?),
        other => {
            return Err(PageError::bad_request(format!(
                "`{other}` is neither now nor at a time"
            )));
        }
    };
    schedule::plan(Timestamp::now(), when, start_within).map_err(|error| {
        PageError::Failed(ApiError::invalid(format!("cannot schedule: {error}")).hint(error.hint()))
    })?;
    Ok(Prepared {
        request,
        when,
        start_within,
    })
}

/// The environments of the spec the viewer may start a deploy in.
async fn actable_envs(state: &ApiState, viewer: &Viewer) -> PageResult<Vec<String>> {
    let caller = viewer.caller();
    caller.require(&Need::Read { env: None })?;
    let envs = state
        .run(None, move |ctx| {
            Ok(ctx.spec.envs.keys().cloned().collect::<Vec<_>>())
        })
        .await?;
    Ok(envs
        .into_iter()
        .filter(|env| {
            caller
                .require(&Need::Act {
                    action: Action::Deploy,
                    env: env.clone(),
                })
                .is_ok()
        })
        .map(|env| env.to_string())
        .collect())
}

fn message(error: &ApiError) -> String {
    match &error.hint {
        Some(hint) => format!("{} — {hint}", error.message),
        None => error.message.clone(),
    }
}

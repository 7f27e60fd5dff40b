//! The admin page's token forms: `POST /admin/tokens` makes one through `ops::tokens::create`
//! (as `hoist tokens create` and `POST /api/tokens` do) and answers with its secret, the
//! only time it is shown; `GET /admin/tokens/{id}/revoke` names the token and what revoking
//! it does, and its form (`POST`) revokes it and ends its dashboard sessions at once.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hoist_core::EnvName;
use hoist_core::access::Role;
use serde::Deserialize;

use crate::ops::tokens::{self, CreateTokenOptions};
use crate::server::api_error::ApiError;
use crate::server::api_input::path;
use crate::server::api_state::ApiState;
use crate::server::caller::Caller;
use crate::server::dashboard::acting::Acting;
use crate::server::dashboard::admin_answers::{
    Confirmation, Secret, confirm_answer, secret_answer,
};
use crate::server::dashboard::admin_page::{self, AdminForms, require_admin, said, scope};
use crate::server::dashboard::command_changes::NoFields;
use crate::server::dashboard::page_error::{PageError, PageResult};
use crate::server::dashboard::sign_in::redirect;
use crate::server::dashboard::viewer::Viewer;

/// The create form, as sent (and shown again with an error).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub role: String,
    /// Environment names separated by commas or spaces; empty: every environment.
    #[serde(default)]
    pub envs: String,
}

impl Default for TokenForm {
    fn default() -> Self {
        Self {
            name: String::new(),
            role: Role::Viewer.as_str().to_owned(),
            envs: String::new(),
        }
    }
}

pub async fn create(
    State(state): State<ApiState>,
    acting: Acting<TokenForm>,
) -> PageResult<Response> {
    let (viewer, form) = (acting.viewer, acting.form);
    let caller = viewer.caller();
    require_admin(&caller)?;
    let options = match options(&form, &caller) {
        Ok(options) => options,
        Err(error) => return again(&state, &viewer, form, &error).await,
    };
    let created = state
        .run_raw(Some(caller.actor()), move |ctx| {
            tokens::create(ctx, &options)
                .map_err(|error| ApiError::from_error(&error, StatusCode::UNPROCESSABLE_ENTITY))
        })
        .await;
    match created {
        Ok(created) => {
            let token = &created.token;
            let heading = format!("Token {} created", token.name);
            let what = format!(
                "Token {} (id {}): {}, environments: {}.",
                token.name,
                token.id,
                token.role,
                scope(&token.envs)
            );
            Ok(secret_answer(
                &viewer,
                &Secret {
                    heading: &heading,
                    what: &what,
                    secret: &created.secret,
                    usage: "Give it to whoever needs it: it signs in here, API calls send it in the header \"Authorization: Bearer …\", and the CLI reads it from HOIST_TOKEN.",
                },
            ))
        }
        Err(error) if error.status.is_client_error() => again(&state, &viewer, form, &error).await,
        Err(error) => Err(PageError::Failed(error)),
    }
}

pub async fn confirm_revoke(
    State(state): State<ApiState>,
    viewer: Viewer,
    id: Result<Path<String>, PathRejection>,
) -> PageResult<Response> {
    let id: i64 = path(id, "token id")?;
    let caller = viewer.caller();
    require_admin(&caller)?;
    let token = state
        .run(None, move |ctx| {
            Ok(tokens::list(ctx)?.into_iter().find(|token| token.id == id))
        })
        .await?
        .ok_or_else(|| missing(id))?;
    if token.revoked_at.is_some() {
        return Err(PageError::Failed(
            ApiError::conflict(format!("token {id} (`{}`) was already revoked", token.name))
                .hint("the admin page lists the live tokens"),
        ));
    }
    let what = format!(
        "Revoke token {} (id {id}, {}, environments: {})? Whoever holds its secret can no longer call the API or sign in here, its open dashboard sessions end now, and commands it scheduled are refused when their time comes.",
        token.name,
        token.role,
        scope(&token.envs)
    );
    let warning = (token.id == caller.token.id)
        .then_some("This is the token you are signed in with: revoking it signs you out.");
    let action = format!("/admin/tokens/{id}/revoke");
    let button = format!("Revoke {}", token.name);
    Ok(confirm_answer(
        &viewer,
        &Confirmation {
            what: &what,
            warning,
            action: &action,
            button: &button,
        },
    ))
}

pub async fn revoke(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
    acting: Acting<NoFields>,
) -> PageResult<Response> {
    let id: i64 = path(id, "token id")?;
    let caller = acting.viewer.caller();
    require_admin(&caller)?;
    let actor = caller.actor();
    state
        .run_raw(Some(actor.clone()), move |ctx| {
            if !tokens::list(ctx)?.iter().any(|token| token.id == id) {
                return Err(missing(id));
            }
            tokens::revoke(ctx, id, Some(&actor))
                .map_err(|error| ApiError::from_error(&error, StatusCode::CONFLICT))
        })
        .await?;
    // The next request of each would end it anyway; this ends them now.
    state.sessions.end_token(id);
    Ok(redirect(&format!("/admin?revoked={id}")))
}

/// The options the form asks for; a role or environment name that cannot be one is a 400.
fn options(form: &TokenForm, caller: &Caller) -> Result<CreateTokenOptions, ApiError> {
    let role: Role = form
        .role
        .trim()
        .parse()
        .map_err(|error: hoist_core::access::RoleError| {
            ApiError::bad_request(error.to_string()).hint(error.hint())
        })?;
    let envs = form
        .envs
        .split([',', ' '])
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            name.parse::<EnvName>().map_err(|error| {
                ApiError::bad_request(format!("`{name}` is not an environment name: {error}"))
                    .hint("give names of the spec's environments separated by commas, or leave it empty for every environment")
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CreateTokenOptions {
        name: form.name.trim().to_owned(),
        role,
        envs,
        created_by: Some(caller.actor()),
    })
}

/// The admin page again, with the form as sent and what was wrong with it.
async fn again(
    state: &ApiState,
    viewer: &Viewer,
    form: TokenForm,
    error: &ApiError,
) -> PageResult<Response> {
    let forms = AdminForms {
        token: form,
        token_error: Some(said(error)),
        ..AdminForms::default()
    };
    admin_page::answer(state, viewer, forms, None, error.status).await
}

fn missing(id: i64) -> ApiError {
    ApiError::not_found(format!("no token with id {id}"))
        .hint("the admin page lists every token with its id")
}

//! `GET /admin` (admin role, unlimited): the tokens (never a secret or a hash) with the form
//! that makes one, the webhooks (never a signing secret) with the form that adds one, and
//! the newest deliveries. The forms' handlers (`admin_page/token_forms.rs`, `admin_page/webhook_forms.rs`) answer
//! their errors with this page and the form as it was sent.

pub mod token_forms;
pub mod webhook_forms;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hoist_core::EnvName;
use hoist_core::access::{Need, Role};
use jiff::Timestamp;
use serde::Deserialize;

use crate::ops::context::Context;
use crate::ops::tokens;
use crate::ops::webhooks::{self, WebhookRow};
use crate::ports::token_store::TokenRecord;
use crate::server::api_error::ApiError;
use crate::server::api_state::ApiState;
use crate::server::caller::Caller;
use crate::server::dashboard::admin_page::token_forms::TokenForm;
use crate::server::dashboard::admin_page::webhook_forms::{DeliveryRow, HookForm, delivery_rows};
use crate::server::dashboard::layout::Layout;
use crate::server::dashboard::moment::Moment;
use crate::server::dashboard::page_error::PageResult;
use crate::server::dashboard::render::render_with_status;
use crate::server::dashboard::viewer::Viewer;

/// How many deliveries the page shows (the deliveries page shows more).
const RECENT_DELIVERIES: usize = 10;

#[derive(Template)]
#[template(path = "dashboard/admin.html")]
struct AdminPage {
    layout: Layout,
    notice: Option<String>,
    tokens: Vec<TokenRow>,
    hooks: Vec<HookRow>,
    deliveries: Vec<DeliveryRow>,
    envs: Vec<String>,
    roles: [&'static str; 3],
    forms: AdminForms,
}

/// The two forms as the page shows them: empty, or as sent with what was wrong.
#[derive(Debug, Clone, Default)]
pub struct AdminForms {
    pub token: TokenForm,
    pub token_error: Option<String>,
    pub hook: HookForm,
    pub hook_error: Option<String>,
}

struct TokenRow {
    id: i64,
    name: String,
    role: &'static str,
    envs: String,
    created_by: String,
    created: Moment,
    last_used: Option<Moment>,
    revoked: Option<Moment>,
    /// The token this page is seen with.
    yours: bool,
}

struct HookRow {
    id: i64,
    url: String,
    env: String,
    kinds: String,
    fingerprint: String,
    created_by: String,
    created: Moment,
    last: Option<DeliveryRow>,
}

/// What a redirect back here reports (`?revoked=ID` …).
#[derive(Debug, Default, Deserialize)]
pub struct AdminQuery {
    #[serde(default)]
    revoked: Option<i64>,
    #[serde(default)]
    added: Option<i64>,
    #[serde(default)]
    removed: Option<i64>,
}

pub async fn page(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(query): Query<AdminQuery>,
) -> PageResult<Response> {
    let notice = match query {
        AdminQuery {
            revoked: Some(id), ..
        } => Some(format!(
            "Token {id} revoked: it no longer signs in, and its sessions have ended."
        )),
        AdminQuery {
            added: Some(id), ..
        } => Some(format!("Webhook {id} added.")),
        AdminQuery {
            removed: Some(id), ..
        } => Some(format!("Webhook {id} removed, with its deliveries.")),
        _ => None,
    };
    answer(
        &state,
        &viewer,
        AdminForms::default(),
        notice,
        StatusCode::OK,
    )
    .await
}

/// The admin page with `forms` (as sent, with their errors) and `status`.
pub async fn answer(
    state: &ApiState,
    viewer: &Viewer,
    forms: AdminForms,
    notice: Option<String>,
    status: StatusCode,
) -> PageResult<Response> {
    let caller = viewer.caller();
    require_admin(&caller)?;
    let yours = caller.token.id;
    let (tokens, hooks, deliveries, envs) = state
        .run(None, move |ctx| {
            let now = ctx.clock.now();
            let tokens = tokens::list(ctx)?
                .iter()
                .map(|token| token_row(token, yours, now))
                .collect();
            let mut hooks = Vec::new();
            for hook in webhooks::list_webhooks(ctx)? {
                let last = delivery_rows(ctx, Some(hook.id), 1, now)?
                    .into_iter()
                    .next();
                hooks.push(hook_row(hook, last, now));
            }
            let deliveries = delivery_rows(ctx, None, RECENT_DELIVERIES, now)?;
            Ok((tokens, hooks, deliveries, spec_envs(ctx)))
        })
        .await?;
    Ok(render_with_status(
        status,
        &AdminPage {
            layout: Layout::new("Admin", "admin", viewer),
            notice,
            tokens,
            hooks,
            deliveries,
            envs,
            roles: Role::ALL.map(Role::as_str),
            forms,
        },
    ))
}

/// What every admin page and form needs: an admin token limited to no environment.
pub fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    caller.require(&Need::ManageTokens)?;
    caller.require(&Need::ManageWebhooks)
}

/// The spec's environment names, for the forms.
pub fn spec_envs(ctx: &Context<'_>) -> Vec<String> {
    ctx.spec.envs.keys().map(ToString::to_string).collect()
}

/// `all`, or the names joined with `, `.
pub fn scope(envs: &[EnvName]) -> String {
    if envs.is_empty() {
        "all".to_owned()
    } else {
        envs.iter()
            .map(EnvName::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn token_row(token: &TokenRecord, yours: i64, now: Timestamp) -> TokenRow {
    TokenRow {
        id: token.id,
        name: token.name.clone(),
        role: token.role.as_str(),
        envs: scope(&token.envs),
        created_by: token.created_by.clone(),
        created: Moment::new(token.created_at, now),
        last_used: token.last_used_at.map(|at| Moment::new(at, now)),
        revoked: token.revoked_at.map(|at| Moment::new(at, now)),
        yours: token.id == yours,
    }
}

fn hook_row(hook: WebhookRow, last: Option<DeliveryRow>, now: Timestamp) -> HookRow {
    HookRow {
        id: hook.id,
        url: hook.url,
        env: hook
            .env
            .map_or_else(|| "all".to_owned(), |env| env.to_string()),
        kinds: if hook.kinds.is_empty() {
            "every event".to_owned()
        } else {
            hook.kinds.join(", ")
        },
        fingerprint: hook.secret,
        created_by: hook.created_by,
        created: Moment::new(hook.created_at, now),
        last,
    }
}

/// An error as a form shows it: the message, then what to do.
pub fn said(error: &ApiError) -> String {
    match &error.hint {
        Some(hint) => format!("{} — {hint}", error.message),
        None => error.message.clone(),
    }
}

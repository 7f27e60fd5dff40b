//! The admin page's webhook forms, through the ops `hoist webhooks …` uses:
//! `POST /admin/webhooks` adds one (a secret from the form, or one hoist generates and shows
//! this once), `GET /admin/webhooks/{id}/remove` names it and its form (`POST`) removes it,
//! and `GET /admin/deliveries[?hook=ID]` lists deliveries with their status and attempts.

use std::fmt;

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hoist_core::EnvName;
use hoist_core::webhook_policy::DeliveryStatus;
use hoist_core::webhook_url::WebhookUrl;
use jiff::Timestamp;
use serde::Deserialize;

use crate::error::Result;
use crate::ops::context::Context;
use crate::ops::webhooks::{self, AddWebhookOptions};
use crate::ports::webhook_store::{Delivery, HookSecret};
use crate::server::api_error::ApiError;
use crate::server::api_input::path;
use crate::server::api_state::ApiState;
use crate::server::dashboard::acting::Acting;
use crate::server::dashboard::admin_answers::{
    Confirmation, Secret, confirm_answer, secret_answer,
};
use crate::server::dashboard::admin_page::{self, AdminForms, require_admin, said};
use crate::server::dashboard::command_changes::NoFields;
use crate::server::dashboard::layout::Layout;
use crate::server::dashboard::moment::Moment;
use crate::server::dashboard::page_error::{PageError, PageResult};
use crate::server::dashboard::render::render;
use crate::server::dashboard::sign_in::redirect;
use crate::server::dashboard::viewer::Viewer;

/// How many deliveries the deliveries page shows.
const DELIVERIES: usize = 100;

/// The add form, as sent. The secret is never shown again, not even with an error.
#[derive(Clone, Default, Deserialize)]
pub struct HookForm {
    #[serde(default)]
    pub url: String,
    /// Empty: every environment.
    #[serde(default)]
    pub env: String,
    /// Event-kind prefixes separated by commas or spaces; empty: every event.
    #[serde(default)]
    pub kinds: String,
    /// Empty: hoist generates one.
    #[serde(default)]
    secret: String,
}

impl fmt::Debug for HookForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookForm")
            .field("url", &self.url)
            .field("env", &self.env)
            .field("kinds", &self.kinds)
            .finish_non_exhaustive()
    }
}

/// A delivery as the pages show it.
#[derive(Debug)]
pub struct DeliveryRow {
    pub id: i64,
    pub hook_id: i64,
    pub event_id: i64,
    /// Empty when the event is no longer stored.
    pub event_kind: String,
    pub status: &'static str,
    pub attempts: u32,
    /// When it is tried again (pending only).
    pub next_attempt: Option<Moment>,
    /// The receiver's last answer or why it failed.
    pub answer: String,
    pub updated: Moment,
}

pub async fn add(State(state): State<ApiState>, acting: Acting<HookForm>) -> PageResult<Response> {
    let (viewer, mut form) = (acting.viewer, acting.form);
    let caller = viewer.caller();
    require_admin(&caller)?;
    let options = options(&form);
    form.secret.clear();
    let options = match options {
        Ok(options) => options,
        Err(error) => return again(&state, &viewer, form, &error).await,
    };
    let added = state
        .run_raw(Some(caller.actor()), move |ctx| {
            webhooks::add_webhook(ctx, &options)
                .map_err(|error| ApiError::from_error(&error, StatusCode::UNPROCESSABLE_ENTITY))
        })
        .await;
    match added {
        Ok(added) => match &added.generated_secret {
            Some(secret) => {
                let what = format!(
                    "Webhook {} sends events to {} (environments: {}; {}).",
                    added.webhook.id,
                    added.webhook.url,
                    added
                        .webhook
                        .env
                        .as_ref()
                        .map_or_else(|| "all".to_owned(), ToString::to_string),
                    kinds(&added.webhook.kinds)
                );
                Ok(secret_answer(
                    &viewer,
                    &Secret {
                        heading: "Webhook added",
                        what: &what,
                        secret,
                        usage: "hoist generated this signing secret. The receiver checks each request's header \"X-Hoist-Signature-256: sha256=<HMAC-SHA256 of the body>\" with it.",
                    },
                ))
            }
            None => Ok(redirect(&format!("/admin?added={}", added.webhook.id))),
        },
        Err(error) if error.status.is_client_error() => again(&state, &viewer, form, &error).await,
        Err(error) => Err(PageError::Failed(error)),
    }
}

pub async fn confirm_remove(
    State(state): State<ApiState>,
    viewer: Viewer,
    id: Result<Path<String>, PathRejection>,
) -> PageResult<Response> {
    let id: i64 = path(id, "webhook id")?;
    require_admin(&viewer.caller())?;
    let hook = state
        .run(None, move |ctx| {
            Ok(webhooks::list_webhooks(ctx)?
                .into_iter()
                .find(|hook| hook.id == id))
        })
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("there is no webhook {id}"))
                .hint("the admin page lists the webhooks with their ids")
        })?;
    let what = format!(
        "Remove webhook {id}, which sends {} to {}? It receives no more events, and its deliveries are deleted with it.",
        kinds(&hook.kinds),
        hook.url
    );
    let action = format!("/admin/webhooks/{id}/remove");
    let button = format!("Remove webhook {id}");
    Ok(confirm_answer(
        &viewer,
        &Confirmation {
            what: &what,
            warning: None,
            action: &action,
            button: &button,
        },
    ))
}

pub async fn remove(
    State(state): State<ApiState>,
    id: Result<Path<String>, PathRejection>,
    acting: Acting<NoFields>,
) -> PageResult<Response> {
    let id: i64 = path(id, "webhook id")?;
    let caller = acting.viewer.caller();
    require_admin(&caller)?;
    state
        .run_raw(Some(caller.actor()), move |ctx| {
            webhooks::remove_webhook(ctx, id)
                .map_err(|error| ApiError::from_error(&error, StatusCode::NOT_FOUND))
        })
        .await?;
    Ok(redirect(&format!("/admin?removed={id}")))
}

#[derive(Template)]
#[template(path = "dashboard/admin_deliveries.html")]
struct DeliveriesPage {
    layout: Layout,
    hook: Option<i64>,
    hooks: Vec<HookChoice>,
    deliveries: Vec<DeliveryRow>,
    limit: usize,
}

struct HookChoice {
    id: i64,
    url: String,
    selected: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct DeliveriesQuery {
    #[serde(default)]
    hook: Option<String>,
}

pub async fn deliveries(
    State(state): State<ApiState>,
    viewer: Viewer,
    Query(query): Query<DeliveriesQuery>,
) -> PageResult<Response> {
    require_admin(&viewer.caller())?;
    let hook = match query.hook.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            PageError::bad_request(format!("`{text}` is not a webhook id"))
                .hint("pick a webhook from the list")
        })?),
    };
    let (hooks, rows) = state
        .run_raw(None, move |ctx| {
            let now = ctx.clock.now();
            let rows = delivery_rows(ctx, hook, DELIVERIES, now)
                .map_err(|error| ApiError::from_error(&error, StatusCode::NOT_FOUND))?;
            let hooks = webhooks::list_webhooks(ctx)?
                .into_iter()
                .map(|row| HookChoice {
                    id: row.id,
                    url: row.url,
                    selected: Some(row.id) == hook,
                })
                .collect();
            Ok((hooks, rows))
        })
        .await?;
    Ok(render(&DeliveriesPage {
        layout: Layout::new("Webhook deliveries", "admin", &viewer),
        hook,
        hooks,
        deliveries: rows,
        limit: DELIVERIES,
    }))
}

/// The newest `limit` deliveries of hook `hook` (`None`: of every hook), with their
/// events' kinds.
pub fn delivery_rows(
    ctx: &Context<'_>,
    hook: Option<i64>,
    limit: usize,
    now: Timestamp,
) -> Result<Vec<DeliveryRow>> {
    let deliveries = webhooks::deliveries(ctx, hook, limit)?;
    let kinds = webhooks::event_kinds(ctx, &deliveries)?;
    Ok(deliveries
        .iter()
        .map(|delivery| DeliveryRow {
            id: delivery.id,
            hook_id: delivery.hook_id,
            event_id: delivery.event_id,
            event_kind: kinds.get(&delivery.event_id).cloned().unwrap_or_default(),
            status: delivery.status.as_str(),
            attempts: delivery.attempts,
            next_attempt: delivery
                .next_attempt_at
                .filter(|_| delivery.status == DeliveryStatus::Pending)
                .map(|at| Moment::new(at, now)),
            answer: answer(delivery),
            updated: Moment::new(delivery.updated_at, now),
        })
        .collect())
}

fn answer(delivery: &Delivery) -> String {
    match (&delivery.last_error, delivery.last_status) {
        (Some(error), _) => error.clone(),
        (None, Some(status)) => format!("HTTP {status}"),
        (None, None) => "not tried yet".to_owned(),
    }
}

fn kinds(kinds: &[String]) -> String {
    if kinds.is_empty() {
        "every event".to_owned()
    } else {
        format!("events {}", kinds.join(", "))
    }
}

/// The options the form asks for; a URL or environment name that cannot be one is a 400.
fn options(form: &HookForm) -> Result<AddWebhookOptions, ApiError> {
    let url: WebhookUrl =
        form.url
            .trim()
            .parse()
            .map_err(|error: hoist_core::webhook_url::WebhookUrlError| {
                ApiError::bad_request(error.to_string()).hint(error.hint())
            })?;
    let env = match form.env.trim() {
        "" => None,
        name => Some(name.parse::<EnvName>().map_err(|error| {
            ApiError::bad_request(format!("`{name}` is not an environment name: {error}"))
                .hint("pick one of the list, or every environment")
        })?),
    };
    let kinds = form
        .kinds
        .split([',', ' '])
        .map(str::trim)
        .filter(|kind| !kind.is_empty())
        .map(str::to_owned)
        .collect();
    let secret = match form.secret.as_str() {
        "" => None,
        secret => Some(HookSecret::new(secret.to_owned())),
    };
    Ok(AddWebhookOptions {
        url,
        env,
        kinds,
        secret,
    })
}

/// The admin page again, with the form as sent (but its secret) and what was wrong with it.
async fn again(
    state: &ApiState,
    viewer: &Viewer,
    form: HookForm,
    error: &ApiError,
) -> PageResult<Response> {
    let forms = AdminForms {
        hook: form,
        hook_error: Some(said(error)),
        ..AdminForms::default()
    };
    admin_page::answer(state, viewer, forms, None, error.status).await
}

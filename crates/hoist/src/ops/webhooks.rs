//! Webhooks as the CLI (and later the API) sees them: add (the secret shown once, if hoist
//! made it), list (secrets masked), remove, the deliveries, and running the sender.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::AtomicBool;

use hoist_core::EnvName;
use hoist_core::webhook_policy::{self, hex};
use hoist_core::webhook_url::WebhookUrl;
use jiff::Timestamp;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ops::context::Context;
use crate::ports::store::{EventFilter, NewEvent};
use crate::ports::webhook_store::{Delivery, DeliveryFilter, HookSecret, NewWebhook, Webhook};
use crate::webhooks::webhook_sender::{self, PassReport, SenderOptions};

/// A secret shorter than this is refused: it is all that stands between a receiver and a
/// forged event.
const MIN_SECRET_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddWebhookOptions {
    pub url: WebhookUrl,
    pub env: Option<EnvName>,
    pub kinds: Vec<String>,
    /// `None`: hoist generates one and shows it once.
    pub secret: Option<HookSecret>,
}

/// A hook as shown: the secret only as a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookRow {
    pub id: i64,
    pub url: String,
    /// `None`: every environment.
    pub env: Option<EnvName>,
    pub kinds: Vec<String>,
    pub secret: String,
    pub created_by: String,
    pub created_at: Timestamp,
}

impl From<&Webhook> for WebhookRow {
    fn from(hook: &Webhook) -> Self {
        Self {
            id: hook.id,
            url: hook.url.to_string(),
            env: hook.env.clone(),
            kinds: hook.kinds.clone(),
            secret: hook.secret.masked(),
            created_by: hook.created_by.clone(),
            created_at: hook.created_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddedWebhook {
    pub webhook: WebhookRow,
    /// The secret hoist generated, shown this once; `None` when it was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generated_secret: Option<String>,
}

pub fn add_webhook(ctx: &Context<'_>, options: &AddWebhookOptions) -> Result<AddedWebhook> {
    if let Some(env) = &options.env {
        ctx.env_spec(env)?;
    }
    for kind in &options.kinds {
        if !webhook_policy::valid_kind_prefix(kind) {
            return Err(
                Error::failed(format!("`{kind}` is not an event kind")).hint(
                    "give a dotted kind or prefix, e.g. `--kind command` or `--kind step.failed`",
                ),
            );
        }
    }
    let (secret, generated) = match &options.secret {
        Some(secret) if secret.expose().len() < MIN_SECRET_LEN => {
            return Err(Error::failed(format!(
                "the webhook secret is shorter than {MIN_SECRET_LEN} characters"
            ))
            .hint("leave `--secret` out and hoist generates one (shown once)"));
        }
        Some(secret) => (secret.clone(), None),
        None => {
            let secret = generate_secret()?;
            (HookSecret::new(secret.clone()), Some(secret))
        }
    };
    let hook = ctx.store.add_webhook(&NewWebhook {
        url: options.url.clone(),
        env: options.env.clone(),
        kinds: options.kinds.clone(),
        secret,
        created_by: ctx.actor.name.clone(),
        created_at: ctx.clock.now(),
    })?;
    // The hook's first delivery, like a ping: it starts after the newest event before it.
    // Events name the receiver by its origin only: a path may hold a token.
    record(
        ctx,
        &hook,
        "webhook.added",
        format!("webhook {} added: {}/…", hook.id, hook.url.origin()),
    )?;
    Ok(AddedWebhook {
        webhook: WebhookRow::from(&hook),
        generated_secret: generated,
    })
}

pub fn list_webhooks(ctx: &Context<'_>) -> Result<Vec<WebhookRow>> {
    Ok(ctx.store.webhooks()?.iter().map(WebhookRow::from).collect())
}

pub fn remove_webhook(ctx: &Context<'_>, id: i64) -> Result<WebhookRow> {
    let hook = find(ctx, id)?;
    ctx.store.remove_webhook(id)?;
    record(
        ctx,
        &hook,
        "webhook.removed",
        format!("webhook {id} removed: {}/…", hook.url.origin()),
    )?;
    Ok(WebhookRow::from(&hook))
}

/// Deliveries, newest first, of one hook or of all.
pub fn deliveries(ctx: &Context<'_>, hook_id: Option<i64>, limit: usize) -> Result<Vec<Delivery>> {
    if let Some(id) = hook_id {
        find(ctx, id)?;
    }
    ctx.store.deliveries(&DeliveryFilter { hook_id, limit })
}

/// The kind of each delivered event, by event id (an event no longer stored is left out):
/// what a list of deliveries shows beside the event's id.
pub fn event_kinds(ctx: &Context<'_>, deliveries: &[Delivery]) -> Result<HashMap<i64, String>> {
    let mut kinds = HashMap::new();
    for delivery in deliveries {
        let id = delivery.event_id;
        if kinds.contains_key(&id) {
            continue;
        }
        let found = ctx.store.events(&EventFilter {
            after_id: Some(id - 1),
            limit: 1,
            ..EventFilter::default()
        })?;
        if let Some(event) = found.into_iter().find(|event| event.id == id) {
            kinds.insert(id, event.event.kind);
        }
    }
    Ok(kinds)
}

/// Runs the sender: one pass with `once`, else until `stop` is set.
pub fn deliver(ctx: &Context<'_>, once: bool, stop: &AtomicBool) -> Result<PassReport> {
    let options = SenderOptions::default();
    if once {
        return webhook_sender::pass(ctx.store, &options, ctx.progress);
    }
    webhook_sender::run(ctx.store, &options, ctx.progress, stop)?;
    Ok(PassReport::default())
}

fn find(ctx: &Context<'_>, id: i64) -> Result<Webhook> {
    let hooks = ctx.store.webhooks()?;
    let known: Vec<String> = hooks.iter().map(|hook| hook.id.to_string()).collect();
    hooks.into_iter().find(|hook| hook.id == id).ok_or_else(|| {
        Error::failed(format!("there is no webhook {id}")).hint(if known.is_empty() {
            "there are no webhooks; add one with `hoist webhooks add URL`".to_owned()
        } else {
            format!(
                "the webhooks are {}; see `hoist webhooks list`",
                known.join(", ")
            )
        })
    })
}

fn record(ctx: &Context<'_>, hook: &Webhook, kind: &str, message: String) -> Result<()> {
    ctx.store.append_event(&NewEvent {
        at: ctx.clock.now(),
        env: hook.env.clone(),
        command_id: None,
        kind: kind.to_owned(),
        message,
        actor: ctx.actor.name.clone(),
    })?;
    Ok(())
}

/// 32 random bytes from the kernel, in hex.
fn generate_secret() -> Result<String> {
    let mut bytes = [0_u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(|error| {
            Error::internal("cannot read random bytes for a webhook secret")
                .cause(error)
                .hint("give one with `--secret` (at least 16 characters)")
        })?;
    Ok(hex(&bytes))
}

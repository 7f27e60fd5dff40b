//! Webhooks as stored: the hooks (with their secrets, which are needed to sign and never
//! shown again), one delivery per (hook, event) with its attempts, and the cursor that says
//! up to which event deliveries have been made. The sender (`webhooks::webhook_sender`)
//! decides with `hoist_core::webhook_policy`; the store only keeps and hands out rows.

use std::fmt;

use hoist_core::EnvName;
use hoist_core::webhook_policy::DeliveryStatus;
use hoist_core::webhook_url::WebhookUrl;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// A hook's signing secret. Its `Debug` shows a fingerprint, and it has no `Serialize`, so
/// it cannot slip into a log line or a JSON answer.
#[derive(Clone, PartialEq, Eq)]
pub struct HookSecret(String);

impl HookSecret {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret itself: to sign with, or to store.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What may be shown: `sha256:1a2b3c4d…`.
    pub fn masked(&self) -> String {
        hoist_core::webhook_policy::masked_secret(&self.0)
    }
}

impl fmt::Debug for HookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub url: WebhookUrl,
    /// `None`: a global hook (every environment, and events of none).
    pub env: Option<EnvName>,
    /// Event-kind prefixes (`command`, `step.failed`); empty: every kind.
    pub kinds: Vec<String>,
    pub secret: HookSecret,
    pub created_by: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub url: WebhookUrl,
    pub env: Option<EnvName>,
    pub kinds: Vec<String>,
    pub secret: HookSecret,
    pub created_by: String,
    pub created_at: Timestamp,
    /// The newest event when it was added: it receives only later ones.
    pub after_event_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: i64,
    pub hook_id: i64,
    pub event_id: i64,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it is due (pending), or until when a sender holds it.
    pub next_attempt_at: Option<Timestamp>,
    /// The receiver's last HTTP status, if it answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed (connection refused, timeout, `500`), never a body.
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The outcome of one attempt, as the policy decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<Timestamp>,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub hook_id: Option<i64>,
    /// Newest first, at most this many (0: no limit).
    pub limit: usize,
}

pub trait WebhookStore {
    /// Stores a hook that receives the events after the newest one now stored.
    fn add_webhook(&self, hook: &NewWebhook) -> Result<Webhook>;
    /// Every hook, oldest first.
    fn webhooks(&self) -> Result<Vec<Webhook>>;
    /// Removes a hook and its deliveries; false if there was none with that id.
    fn remove_webhook(&self, id: i64) -> Result<bool>;

    /// The last event id turned into deliveries (0 before the first).
    fn webhook_cursor(&self) -> Result<i64>;
    /// Adds a pending delivery, due at `now`, for each (hook, event) pair not delivered
    /// already, and moves the cursor forward to `cursor` (never back), in one transaction.
    /// Two senders doing the same work at once make each delivery once. Returns how many
    /// were new.
    fn enqueue_deliveries(
        &self,
        pairs: &[(i64, i64)],
        cursor: i64,
        now: Timestamp,
    ) -> Result<usize>;
    /// Hands at most `limit` pending deliveries due by `now` to the caller, holding them
    /// (their next attempt moved to `hold_until`) so another sender does not send them too;
    /// oldest first.
    fn claim_due_deliveries(
        &self,
        now: Timestamp,
        hold_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>>;
    /// Records an attempt: one more attempt, the new status and next time, what came back.
    fn record_delivery_attempt(&self, id: i64, attempt: &DeliveryAttempt) -> Result<Delivery>;
    fn deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>>;
}

//! The webhook sender: a blocking loop that turns events newer than the store's cursor into
//! deliveries (one per hook that receives the event), claims the deliveries that are due,
//! POSTs each, signed, and records the outcome and the next attempt (the policy's backoff).
//!
//! `hoist serve` runs `run` on a thread of its own and sets `stop` to end it; `hoist
//! webhooks deliver` runs it in the foreground, and `--once` is `pass`. Every step is safe
//! to run twice and from two senders at once: deliveries are unique per (hook, event) and a
//! claim holds a delivery away from other senders until it was sent (or the hold ran out,
//! when its sender died).
//!
//! A body carries the event only — id, time, environment, command id, kind, message, actor
//! — never a secret (messages never hold one) nor a command's output.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hoist_core::webhook_policy::{
    self, DELIVERY_HEADER, DeliveryStatus, EVENT_HEADER, HookScope, SETTLE, SIGNATURE_HEADER,
};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ports::Progress;
use crate::ports::store::{Event, EventFilter, Store};
use crate::ports::webhook_store::{Delivery, DeliveryAttempt, Webhook};
use crate::webhooks::http_post::{HttpPost, PostOutcome};

/// How the sender paces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderOptions {
    /// The most one POST may take, connecting included.
    pub timeout: Duration,
    /// How long `run` sleeps between passes that found nothing to do.
    pub poll: Duration,
    /// Deliveries claimed at a time.
    pub batch: usize,
    /// Events read at a time when making deliveries.
    pub events_per_read: usize,
}

impl Default for SenderOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            poll: Duration::from_millis(500),
            batch: 16,
            events_per_read: 500,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PassReport {
    /// Deliveries made from new events.
    pub queued: usize,
    pub delivered: usize,
    /// Failed attempts that will be tried again.
    pub retrying: usize,
    /// Deliveries given up after their last attempt.
    pub failed: usize,
}

impl PassReport {
    fn attempts(&self) -> usize {
        self.delivered + self.retrying + self.failed
    }
}

/// The JSON a receiver gets.
#[derive(Debug, Serialize)]
struct WebhookBody<'a> {
    delivery: i64,
    hook: i64,
    event: &'a Event,
}

/// Runs passes until `stop` is set, sleeping `options.poll` between passes that found
/// nothing to do (checking `stop` every 50 ms). A pass that fails (the store unreachable) is
/// reported through `progress` and tried again after the poll interval; only a client that
/// cannot start is an error.
pub fn run(
    store: &dyn Store,
    options: &SenderOptions,
    progress: &dyn Progress,
    stop: &AtomicBool,
) -> Result<()> {
    let client = HttpPost::new(options.timeout)?;
    while !stop.load(Ordering::Relaxed) {
        let busy = match pass_with(store, options, &client, progress) {
            Ok(report) => report.queued + report.attempts() > 0,
            Err(error) => {
                progress.note(&format!("webhooks: {}", error.message));
                false
            }
        };
        if !busy {
            let until = Instant::now() + options.poll;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50).min(options.poll));
            }
        }
    }
    Ok(())
}

/// One pass: makes deliveries of the events not seen yet, then sends every delivery that is
/// due now (each once).
pub fn pass(
    store: &dyn Store,
    options: &SenderOptions,
    progress: &dyn Progress,
) -> Result<PassReport> {
    let client = HttpPost::new(options.timeout)?;
    pass_with(store, options, &client, progress)
}

fn pass_with(
    store: &dyn Store,
    options: &SenderOptions,
    client: &HttpPost,
    progress: &dyn Progress,
) -> Result<PassReport> {
    let mut report = PassReport {
        queued: queue_new_events(store, options)?,
        ..PassReport::default()
    };
    let hooks = store.webhooks()?;
    // Claimed deliveries are held for as long as sending the whole batch could take.
    let hold = options.timeout.saturating_mul(
        u32::try_from(options.batch)
            .unwrap_or(u32::MAX)
            .saturating_add(1),
    );
    let started = Timestamp::now();
    loop {
        // Only what was due when the pass started: a retry due in 1 s waits for the next pass.
        let hold_until = later(Timestamp::now(), hold);
        let claimed = store.claim_due_deliveries(started, hold_until, options.batch)?;
        if claimed.is_empty() {
            return Ok(report);
        }
        for delivery in claimed {
            let Some(hook) = hooks.iter().find(|hook| hook.id == delivery.hook_id) else {
                continue; // removed since: its deliveries went with it
            };
            let status = send(store, client, hook, &delivery, progress)?;
            match status {
                DeliveryStatus::Delivered => report.delivered += 1,
                DeliveryStatus::Pending => report.retrying += 1,
                DeliveryStatus::Failed => report.failed += 1,
            }
        }
    }
}

/// Turns the events after the cursor into deliveries, a read at a time; returns how many.
fn queue_new_events(store: &dyn Store, options: &SenderOptions) -> Result<usize> {
    let hooks = store.webhooks()?;
    let mut cursor = store.webhook_cursor()?;
    let mut queued = 0;
    loop {
        let events = store.events(&EventFilter {
            after_id: Some(cursor),
            limit: options.events_per_read.max(1),
            ..EventFilter::default()
        })?;
        if events.is_empty() {
            return Ok(queued);
        }
        let now = Timestamp::now();
        let times: Vec<(i64, Timestamp)> = events.iter().map(|e| (e.id, e.event.at)).collect();
        let moved = webhook_policy::cursor_after(cursor, &times, earlier(now, SETTLE));
        let pairs: Vec<(i64, i64)> = events
            .iter()
            .flat_map(|event| {
                hooks
                    .iter()
                    .filter(|hook| receives(hook, event))
                    .map(|hook| (hook.id, event.id))
            })
            .collect();
        queued += store.enqueue_deliveries(&pairs, moved, now)?;
        if moved == cursor {
            // Waiting for a gap to settle: the events after it are read again next pass.
            return Ok(queued);
        }
        cursor = moved;
    }
}

fn receives(hook: &Webhook, event: &Event) -> bool {
    let scope = HookScope {
        env: hook.env.as_ref(),
        kinds: &hook.kinds,
        after_event_id: hook.after_event_id,
    };
    webhook_policy::receives(
        &scope,
        event.id,
        event.event.env.as_ref(),
        &event.event.kind,
    )
}

/// Sends one delivery and records the attempt; returns where it now stands.
fn send(
    store: &dyn Store,
    client: &HttpPost,
    hook: &Webhook,
    delivery: &Delivery,
    progress: &dyn Progress,
) -> Result<DeliveryStatus> {
    let event = store
        .events(&EventFilter {
            after_id: Some(delivery.event_id - 1),
            limit: 1,
            ..EventFilter::default()
        })?
        .into_iter()
        .find(|event| event.id == delivery.event_id)
        .ok_or_else(|| {
            Error::internal(format!(
                "webhook delivery {}: event {} is not in the store",
                delivery.id, delivery.event_id
            ))
        })?;
    let body = serde_json::to_vec(&WebhookBody {
        delivery: delivery.id,
        hook: hook.id,
        event: &event,
    })
    .map_err(|error| Error::internal("cannot encode a webhook body").cause(error))?;
    let headers = [
        (
            SIGNATURE_HEADER,
            webhook_policy::signature(hook.secret.expose().as_bytes(), &body),
        ),
        (DELIVERY_HEADER, delivery.id.to_string()),
        (EVENT_HEADER, event.event.kind.clone()),
    ];
    let outcome = client.post(&hook.url, &headers, &body);
    let now = Timestamp::now();
    let (http_status, error) = match &outcome {
        PostOutcome::Answered(status) if webhook_policy::is_delivered(*status) => {
            (Some(*status), None)
        }
        PostOutcome::Answered(status) => (
            Some(*status),
            Some(format!("the receiver answered {status}")),
        ),
        PostOutcome::NoAnswer(error) => (None, Some(error.clone())),
    };
    let attempts = delivery.attempts.saturating_add(1);
    let next = webhook_policy::after_attempt(attempts, error.is_none(), now);
    store.record_delivery_attempt(
        delivery.id,
        &DeliveryAttempt {
            status: next.status,
            next_attempt_at: next.next_attempt_at,
            http_status,
            error: error.clone(),
            at: now,
        },
    )?;
    if let Some(error) = error {
        let then = match next.next_attempt_at {
            Some(at) => format!("retry at {at}"),
            None => format!("given up after {attempts} attempts"),
        };
        progress.note(&format!(
            "webhook {} ({}): delivery {} of event {} failed: {error}; {then}",
            hook.id, hook.url, delivery.id, event.id
        ));
    }
    Ok(next.status)
}

fn earlier(now: Timestamp, by: Duration) -> Timestamp {
    SignedDuration::try_from(by)
        .ok()
        .and_then(|by| now.checked_sub(by).ok())
        .unwrap_or(Timestamp::MIN)
}

fn later(now: Timestamp, by: Duration) -> Timestamp {
    SignedDuration::try_from(by)
        .ok()
        .and_then(|by| now.checked_add(by).ok())
        .unwrap_or(Timestamp::MAX)
}

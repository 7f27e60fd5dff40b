//! The contract's webhook part: hooks kept with their secrets and the event they start
//! after, deliveries made once per (hook, event), a cursor that only moves forward, claims
//! that hold a delivery away from other senders, attempts recorded, removal taking the
//! deliveries along. No other part makes deliveries, so claims see only this part's.

use hoist_core::webhook_policy::DeliveryStatus;

use super::{TestResult, at, env};
use crate::ports::store::{NewEvent, Store};
use crate::ports::webhook_store::{DeliveryAttempt, DeliveryFilter, HookSecret, NewWebhook};

fn event(store: &dyn Store, kind: &str) -> Result<i64, crate::Error> {
    Ok(store
        .append_event(&NewEvent {
            at: at(0),
            env: Some(env("hooks-web")),
            command_id: None,
            kind: kind.to_owned(),
            message: format!("{kind} happened"),
            actor: "alice@ci-7".to_owned(),
        })?
        .id)
}

pub(super) fn webhooks_add_list_remove(store: &dyn Store) -> TestResult {
    let newest = event(store, "command.started")?;
    let global = NewWebhook {
        url: "http://127.0.0.1:9000/hooks".parse()?,
        env: None,
        kinds: Vec::new(),
        secret: HookSecret::new("global-secret".to_owned()),
        created_by: "alice@ci-7".to_owned(),
        created_at: at(1_000),
    };
    let scoped = NewWebhook {
        url: "http://hooks.internal/web".parse()?,
        env: Some(env("hooks-web")),
        kinds: vec!["command".to_owned(), "step.failed".to_owned()],
        secret: HookSecret::new("scoped-secret".to_owned()),
        created_at: at(2_000),
        ..global.clone()
    };
    let first = store.add_webhook(&global)?;
    let second = store.add_webhook(&scoped)?;
    assert!(first.id < second.id);
    assert_eq!(
        first.after_event_id, newest,
        "a hook starts after the newest event"
    );
    assert_eq!(
        (&second.url, &second.env, &second.kinds, &second.secret),
        (&scoped.url, &scoped.env, &scoped.kinds, &scoped.secret)
    );
    let listed = store.webhooks()?;
    assert_eq!(listed, [first.clone(), second.clone()]);

    let later = event(store, "command.succeeded")?;
    store.enqueue_deliveries(&[(second.id, later)], later, at(3_000))?;
    assert!(store.remove_webhook(second.id)?);
    assert!(!store.remove_webhook(second.id)?);
    assert_eq!(store.webhooks()?, std::slice::from_ref(&first));
    let filter = DeliveryFilter {
        hook_id: Some(second.id),
        limit: 0,
    };
    assert_eq!(
        store.deliveries(&filter)?,
        [],
        "its deliveries went with it"
    );
    assert_eq!(
        store.enqueue_deliveries(&[(second.id, later)], later, at(3_000))?,
        0,
        "no deliveries for a removed hook"
    );
    assert!(store.remove_webhook(first.id)?);
    Ok(())
}

pub(super) fn webhook_deliveries_claim_retry(store: &dyn Store) -> TestResult {
    let hook = store.add_webhook(&NewWebhook {
        url: "http://127.0.0.1:9001/".parse()?,
        env: None,
        kinds: Vec::new(),
        secret: HookSecret::new("s".to_owned()),
        created_by: "bob@ci-7".to_owned(),
        created_at: at(0),
    })?;
    let (one, two) = (event(store, "step.started")?, event(store, "step.failed")?);
    let before = store.webhook_cursor()?;
    assert!(before < two);

    let pairs = [(hook.id, one), (hook.id, two)];
    assert_eq!(store.enqueue_deliveries(&pairs, two, at(10_000))?, 2);
    assert_eq!(store.webhook_cursor()?, two);
    assert_eq!(
        store.enqueue_deliveries(&pairs, one, at(10_000))?,
        0,
        "each (hook, event) once"
    );
    assert_eq!(store.webhook_cursor()?, two, "the cursor never moves back");

    assert_eq!(store.claim_due_deliveries(at(9_999), at(40_000), 10)?, []);
    let first = store.claim_due_deliveries(at(10_000), at(40_000), 1)?;
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].event_id, first[0].attempts), (one, 0));
    assert_eq!(first[0].status, DeliveryStatus::Pending);
    assert_eq!(first[0].next_attempt_at, Some(at(40_000)), "held");
    let second = store.claim_due_deliveries(at(10_000), at(40_000), 10)?;
    assert_eq!(second.len(), 1, "a held delivery is not handed out twice");
    assert_eq!(second[0].event_id, two);
    assert_eq!(store.claim_due_deliveries(at(20_000), at(50_000), 10)?, []);

    let retried = store.record_delivery_attempt(
        first[0].id,
        &DeliveryAttempt {
            status: DeliveryStatus::Pending,
            next_attempt_at: Some(at(21_000)),
            http_status: Some(500),
            error: Some("the receiver answered 500".to_owned()),
            at: at(20_000),
        },
    )?;
    assert_eq!(
        (retried.attempts, retried.last_status, retried.status),
        (1, Some(500), DeliveryStatus::Pending)
    );
    assert_eq!(
        retried.last_error.as_deref(),
        Some("the receiver answered 500")
    );
    assert_eq!(retried.updated_at, at(20_000));
    let again = store.claim_due_deliveries(at(21_000), at(51_000), 10)?;
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].attempts), (first[0].id, 1));
    let delivered = store.record_delivery_attempt(
        first[0].id,
        &DeliveryAttempt {
            status: DeliveryStatus::Delivered,
            next_attempt_at: None,
            http_status: Some(204),
            error: None,
            at: at(21_500),
        },
    )?;
    assert_eq!(
        (
            delivered.attempts,
            delivered.status,
            delivered.next_attempt_at
        ),
        (2, DeliveryStatus::Delivered, None)
    );
    assert_eq!(delivered.last_error, None);
    assert_eq!(
        store
            .claim_due_deliveries(at(99_000), at(99_000), 10)?
            .len(),
        1
    );

    let listed = store.deliveries(&DeliveryFilter {
        hook_id: Some(hook.id),
        limit: 0,
    })?;
    assert_eq!(
        listed.iter().map(|d| d.event_id).collect::<Vec<_>>(),
        [two, one],
        "newest first"
    );
    assert_eq!(listed[1], delivered);
    let newest = store.deliveries(&DeliveryFilter {
        hook_id: None,
        limit: 1,
    })?;
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].event_id, two);
    store.remove_webhook(hook.id)?;
    Ok(())
}

//! The `Store` contract as assertions any adapter must pass: the SQLite and the PostgreSQL
//! store run this very function. Takes an empty store; each part uses its own environment
//! names so the parts do not see each other's rows.

mod commands;
mod event_times;
mod leases;
mod queue;
mod tokens;
mod webhooks;

use hoist_core::{EnvName, EnvState, ReleaseId, ReleaseStatus, Step};
use jiff::Timestamp;

use self::commands::{
    command_runs_to_failure_with_error, command_runs_to_success_with_steps,
    commands_filter_newest_first, forbidden_transitions_are_refused,
};
use self::event_times::events_since_and_newest;
use self::leases::{lease_acquire_hold_expire, lease_take_over_renew_release};
use self::queue::{controllers_announce_refresh_forget, queue_claims_changes_takeover};
use self::tokens::tokens_create_find_revoke;
use self::webhooks::{webhook_deliveries_claim_retry, webhooks_add_list_remove};
use crate::ports::host::LockHolder;
use crate::ports::runtime::Slot;
use crate::ports::store::{
    EnvironmentRecord, EventFilter, LiveInstance, NewEvent, RegisteredHost, ReleaseRecord,
    StepFailure, Store,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// One named part of the contract.
type Part = (&'static str, fn(&dyn Store) -> TestResult);

/// Runs every part of the contract against `store`, which must start empty; panics naming
/// the part that failed.
pub(crate) fn store_contract_tests(store: &dyn Store) {
    let parts: [Part; 18] = [
        ("environments", environments_save_load_list_replace),
        ("timestamps", timestamps_keep_milliseconds),
        ("command success", command_runs_to_success_with_steps),
        ("command failure", command_runs_to_failure_with_error),
        ("forbidden transitions", forbidden_transitions_are_refused),
        ("command filters", commands_filter_newest_first),
        ("lease expiry", lease_acquire_hold_expire),
        ("lease takeover", lease_take_over_renew_release),
        ("releases", releases_save_update_list),
        ("events", events_append_and_filter),
        ("registered hosts", registered_hosts_add_update_remove),
        ("live instances", live_instances_replace_per_host),
        ("queue", queue_claims_changes_takeover),
        ("controllers", controllers_announce_refresh_forget),
        ("event time and newest", events_since_and_newest),
        ("webhooks", webhooks_add_list_remove),
        ("webhook deliveries", webhook_deliveries_claim_retry),
        ("tokens", tokens_create_find_revoke),
    ];
    for (name, part) in parts {
        if let Err(error) = part(store) {
            panic!("store contract, {name}: {error}");
        }
    }
}

pub(crate) fn env(name: &str) -> EnvName {
    name.parse()
        .unwrap_or_else(|error| panic!("bad fixture: {error}"))
}

/// A whole-millisecond time `offset_ms` after a fixed instant in 2026.
pub(crate) fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_millisecond(1_795_000_000_000 + offset_ms)
        .unwrap_or_else(|error| panic!("bad fixture: {error}"))
}

pub(crate) fn holder(owner: &str, pid: u32) -> LockHolder {
    LockHolder {
        owner: owner.to_owned(),
        pid,
        machine: "ci-7".to_owned(),
        started_at: "2026-11-18T10:00:00Z".to_owned(),
        message: format!("hoist deploy by {owner}"),
        command_id: Some(i64::from(pid)),
    }
}

fn release_id(second: u32, hash: &str) -> ReleaseId {
    format!("20261121T2359{second:02}Z-{hash}")
        .parse()
        .unwrap_or_else(|error| panic!("bad fixture: {error}"))
}

fn environments_save_load_list_replace(store: &dyn Store) -> TestResult {
    assert_eq!(store.environment(&env("env-a"))?, None);
    assert_eq!(store.environments()?, []);

    let mut first = EnvironmentRecord {
        name: env("env-a"),
        state: EnvState::Created,
        failure: None,
        live_release: None,
        pending_release: None,
        created_at: at(0),
        updated_at: at(0),
    };
    let second = EnvironmentRecord {
        name: env("env-b"),
        state: EnvState::Running,
        failure: Some(StepFailure {
            step: Step::Run,
            error: "probe `GET /health` never answered 200".to_owned(),
            at: at(5_000),
            command_id: Some(42),
        }),
        live_release: Some(release_id(1, "3f2a9c1d")),
        pending_release: Some(release_id(2, "00ff00ff")),
        created_at: at(1_000),
        updated_at: at(5_000),
    };
    // Saved out of name order: the list comes back sorted by name.
    store.save_environment(&second)?;
    store.save_environment(&first)?;
    assert_eq!(store.environment(&env("env-a"))?, Some(first.clone()));
    assert_eq!(store.environment(&env("env-b"))?, Some(second.clone()));

    first.state = EnvState::Provisioned;
    first.failure = Some(StepFailure {
        step: Step::Configure,
        error: "template `app.env` is missing `DATABASE_URL`".to_owned(),
        at: at(9_000),
        command_id: None,
    });
    first.updated_at = at(9_000);
    store.save_environment(&first)?;
    assert_eq!(store.environments()?, [first.clone(), second.clone()]);

    first.failure = None;
    first.live_release = Some(release_id(3, "abcdef01"));
    store.save_environment(&first)?;
    assert_eq!(store.environment(&env("env-a"))?, Some(first));
    Ok(())
}

fn timestamps_keep_milliseconds(store: &dyn Store) -> TestResult {
    let fine = Timestamp::new(1_795_000_000, 123_456_789)?;
    let record = EnvironmentRecord {
        name: env("precise"),
        state: EnvState::Created,
        failure: None,
        live_release: None,
        pending_release: None,
        created_at: fine,
        updated_at: at(7),
    };
    store.save_environment(&record)?;
    let loaded = store
        .environment(&env("precise"))?
        .ok_or("record missing")?;
    assert_eq!(
        loaded.created_at,
        Timestamp::new(1_795_000_000, 123_000_000)?,
        "sub-millisecond parts are truncated"
    );
    assert_eq!(
        loaded.updated_at,
        at(7),
        "whole milliseconds round-trip exactly"
    );
    Ok(())
}

fn registered_hosts_add_update_remove(store: &dyn Store) -> TestResult {
    let fleet = env("hosts-fleet");
    assert_eq!(store.registered_hosts(&fleet)?, []);
    let web1 = RegisteredHost {
        env: fleet.clone(),
        address: "deploy@web1:2222".parse()?,
        jump: Some("ops@bastion".parse()?),
        source: "register".to_owned(),
        added_at: at(1_000),
    };
    let web2 = RegisteredHost {
        address: "web2".parse()?,
        jump: None,
        source: "provision".to_owned(),
        added_at: at(2_000),
        ..web1.clone()
    };
    let elsewhere = RegisteredHost {
        env: env("hosts-other"),
        ..web1.clone()
    };
    store.register_host(&web2)?;
    store.register_host(&web1)?;
    store.register_host(&elsewhere)?;
    assert_eq!(
        store.registered_hosts(&fleet)?,
        [web1.clone(), web2.clone()]
    );

    let moved = RegisteredHost {
        jump: None,
        ..web1.clone()
    };
    store.register_host(&moved)?;
    assert_eq!(
        store.registered_hosts(&fleet)?,
        [moved.clone(), web2.clone()]
    );

    assert!(store.unregister_host(&fleet, &web2.address)?);
    assert!(!store.unregister_host(&fleet, &web2.address)?);
    assert_eq!(store.registered_hosts(&fleet)?, [moved]);
    assert_eq!(store.registered_hosts(&env("hosts-other"))?, [elsewhere]);
    Ok(())
}

fn releases_save_update_list(store: &dyn Store) -> TestResult {
    let web = env("rel-web");
    assert_eq!(store.releases(&web)?, []);
    let mut older = ReleaseRecord {
        env: web.clone(),
        id: release_id(1, "11111111"),
        status: ReleaseStatus::Uploading,
        content_hash: "1".repeat(64),
        config_hash: "a".repeat(64),
        created_at: at(1_000),
        command_id: Some(7),
    };
    let newer = ReleaseRecord {
        id: release_id(2, "22222222"),
        status: ReleaseStatus::Ready,
        content_hash: "2".repeat(64),
        created_at: at(2_000),
        command_id: None,
        ..older.clone()
    };
    let elsewhere = ReleaseRecord {
        env: env("rel-api"),
        ..older.clone()
    };
    store.save_release(&newer)?;
    store.save_release(&older)?;
    store.save_release(&elsewhere)?;
    assert_eq!(store.releases(&web)?, [older.clone(), newer.clone()]);

    older.status = ReleaseStatus::Failed;
    store.save_release(&older)?;
    assert_eq!(store.releases(&web)?, [older, newer]);
    assert_eq!(store.releases(&env("rel-api"))?, [elsewhere]);
    Ok(())
}

fn events_append_and_filter(store: &dyn Store) -> TestResult {
    let event = |env_name: Option<&str>, command_id, kind: &str, offset| NewEvent {
        at: at(offset),
        env: env_name.map(env),
        command_id,
        kind: kind.to_owned(),
        message: format!("{kind} happened"),
        actor: "alice@ci-7".to_owned(),
    };
    let appended: Vec<_> = [
        event(Some("ev-a"), None, "env.state", 0),
        event(Some("ev-b"), None, "command.started", 1),
        event(Some("ev-a"), Some(99), "step.failed", 2),
        event(None, None, "token.created", 3),
    ]
    .iter()
    .map(|new| {
        let stored = store.append_event(new)?;
        assert_eq!(&stored.event, new);
        Ok::<_, crate::Error>(stored)
    })
    .collect::<Result<_, _>>()?;
    assert!(appended.windows(2).all(|pair| pair[0].id < pair[1].id));

    let events = |filter: EventFilter| store.events(&filter);
    assert_eq!(
        events(EventFilter {
            env: Some(env("ev-a")),
            ..EventFilter::default()
        })?,
        [appended[0].clone(), appended[2].clone()]
    );
    assert_eq!(
        events(EventFilter {
            command_id: Some(99),
            ..EventFilter::default()
        })?,
        [appended[2].clone()]
    );
    assert_eq!(
        events(EventFilter {
            after_id: Some(appended[0].id),
            ..EventFilter::default()
        })?,
        appended[1..]
    );
    assert_eq!(
        events(EventFilter {
            after_id: Some(appended[0].id),
            limit: 2,
            ..EventFilter::default()
        })?,
        appended[1..3]
    );
    assert_eq!(
        events(EventFilter {
            env: Some(env("ev-a")),
            after_id: Some(appended[0].id),
            ..EventFilter::default()
        })?,
        [appended[2].clone()]
    );
    assert_eq!(
        events(EventFilter {
            after_id: Some(appended[3].id),
            ..EventFilter::default()
        })?,
        []
    );
    Ok(())
}

fn live_instances_replace_per_host(store: &dyn Store) -> TestResult {
    let web = env("live-web");
    assert_eq!(store.live_instances(&web)?, []);
    let blue = LiveInstance {
        env: web.clone(),
        host: "deploy@web1".to_owned(),
        slot: Slot::Blue,
        release: "20261122T000001Z-aaaaaaaa".parse()?,
        pid: 4242,
        port: 40_001,
        recorded_at: at(5_000),
    };
    let other_host = LiveInstance {
        host: "deploy@web2".to_owned(),
        slot: Slot::Single,
        ..blue.clone()
    };
    store.save_live_instance(&blue)?;
    store.save_live_instance(&other_host)?;
    let green = LiveInstance {
        slot: Slot::Green,
        release: "20261122T000002Z-bbbbbbbb".parse()?,
        pid: 4343,
        port: 40_002,
        recorded_at: at(6_000),
        ..blue.clone()
    };
    store.save_live_instance(&green)?;
    assert_eq!(
        store.live_instances(&web)?,
        [green.clone(), other_host.clone()],
        "one row per host, the newest"
    );
    assert!(store.forget_live_instance(&web, Some("deploy@web2"))?);
    assert!(!store.forget_live_instance(&web, Some("deploy@web2"))?);
    assert_eq!(store.live_instances(&web)?, [green]);
    assert!(store.forget_live_instance(&web, None)?);
    assert_eq!(store.live_instances(&web)?, []);
    Ok(())
}

//! The contract's event-time part: events from a time on, and the newest few (still oldest
//! first), as `hoist events --since/--limit` asks for them, also before an id (the
//! dashboard's timeline pages back so).

use super::{TestResult, at, env};
use crate::ports::store::{EventFilter, NewEvent, Store};

pub(super) fn events_since_and_newest(store: &dyn Store) -> TestResult {
    let event = |kind: &str, offset| NewEvent {
        at: at(offset),
        env: Some(env("ev-time")),
        command_id: None,
        kind: kind.to_owned(),
        message: format!("{kind} happened"),
        actor: "alice@ci-7".to_owned(),
    };
    let appended = [
        store.append_event(&event("command.started", 10_000))?,
        store.append_event(&event("step.started", 20_000))?,
        store.append_event(&event("step.succeeded", 30_000))?,
    ];
    let of_env = || EventFilter {
        env: Some(env("ev-time")),
        ..EventFilter::default()
    };
    assert_eq!(
        store.events(&EventFilter {
            since: Some(at(20_000)),
            ..of_env()
        })?,
        appended[1..],
        "since is inclusive"
    );
    assert_eq!(
        store.events(&EventFilter {
            limit: 2,
            newest: true,
            ..of_env()
        })?,
        appended[1..],
        "the newest two, oldest first"
    );
    assert_eq!(
        store.events(&EventFilter {
            limit: 2,
            ..of_env()
        })?,
        appended[..2]
    );
    assert_eq!(
        store.events(&EventFilter {
            newest: true,
            ..of_env()
        })?,
        appended,
        "newest without a limit is everything"
    );
    assert_eq!(
        store.events(&EventFilter {
            before_id: Some(appended[2].id),
            limit: 1,
            newest: true,
            ..of_env()
        })?,
        appended[1..2],
        "the newest one before an id: paging back"
    );
    Ok(())
}

//! The contract's queue part: claims handed to one controller, conditional cancel and
//! reschedule, starts only by the claimer, renewals, takeover after a claim ran out, and
//! the controllers' registry. Its times lie long before every other part's, so claiming
//! "everything due" sees only its own commands.

use hoist_core::{Action, CommandStatus};
use serde_json::json;

use super::{TestResult, at, env, holder};
use crate::ports::command_queue::{ChangeOutcome, ControllerRecord, ScheduledChange};
use crate::ports::store::{NewCommand, Store};

const BASE: i64 = -10_000_000_000;

fn scheduled(store: &dyn Store, execute_ms: i64) -> Result<i64, Box<dyn std::error::Error>> {
    let command = store.insert_command(&NewCommand {
        kind: Action::Deploy,
        env: env("queue"),
        args: json!({ "kind": "deploy", "env": "queue" }),
        requested_by: "alice@ci-7".to_owned(),
        status: CommandStatus::Scheduled,
        execute_at: Some(at(BASE + execute_ms)),
        expires_at: Some(at(BASE + execute_ms + 60_000)),
        requested_token: Some(7),
        created_at: at(BASE),
    })?;
    assert_eq!(command.expires_at, Some(at(BASE + execute_ms + 60_000)));
    assert_eq!(command.requested_token, Some(7));
    assert_eq!((&command.claimed_by, command.claim_until), (&None, None));
    Ok(command.id)
}

fn ids(commands: &[crate::ports::store::CommandRecord]) -> Vec<i64> {
    commands.iter().map(|command| command.id).collect()
}

pub(super) fn queue_claims_changes_takeover(store: &dyn Store) -> TestResult {
    let first = scheduled(store, 1_000)?;
    let later = scheduled(store, 5_000)?;
    let cancelled = scheduled(store, 2_000)?;
    assert_eq!(store.next_due()?, Some(at(BASE + 1_000)));

    let ChangeOutcome::Changed(record) =
        store.change_scheduled(cancelled, ScheduledChange::Cancel, at(BASE + 500))?
    else {
        panic!("a scheduled command is cancelled");
    };
    assert_eq!(record.status, CommandStatus::Cancelled);
    assert_eq!(record.finished_at, Some(at(BASE + 500)));
    match store.change_scheduled(cancelled, ScheduledChange::Cancel, at(BASE + 600))? {
        ChangeOutcome::NotScheduled(record) => assert_eq!(record.status, CommandStatus::Cancelled),
        other => panic!("a second cancel changes nothing, got {other:?}"),
    }
    assert_eq!(
        store.change_scheduled(-1, ScheduledChange::Cancel, at(BASE))?,
        ChangeOutcome::Missing
    );

    let (now, until) = (at(BASE + 3_000), at(BASE + 33_000));
    let claimed = store.claim_due("ctl-1", now, until, 10)?;
    assert_eq!(ids(&claimed), vec![first], "only the due, live command");
    assert_eq!(claimed[0].claimed_by.as_deref(), Some("ctl-1"));
    assert_eq!(claimed[0].claim_until, Some(until));
    assert!(store.claim_due("ctl-2", now, until, 10)?.is_empty());
    assert_eq!(store.next_due()?, Some(at(BASE + 5_000)));

    let runner = holder("serve", 77);
    assert_eq!(store.start_claimed(first, "ctl-2", &runner, now)?, None);
    let running = store
        .start_claimed(first, "ctl-1", &runner, now)?
        .ok_or("the claimer starts its command")?;
    assert_eq!(running.status, CommandStatus::Running);
    assert_eq!(running.started_at, Some(now));
    assert_eq!(running.runner, Some(runner.clone()));
    match store.change_scheduled(first, ScheduledChange::Cancel, now)? {
        ChangeOutcome::NotScheduled(record) => assert_eq!(record.status, CommandStatus::Running),
        other => panic!("a running command is not cancelled, got {other:?}"),
    }

    let moved = ScheduledChange::Reschedule {
        execute_at: at(BASE + 4_000),
        expires_at: at(BASE + 9_000),
    };
    let ChangeOutcome::Changed(record) = store.change_scheduled(later, moved, now)? else {
        panic!("a scheduled command is rescheduled");
    };
    assert_eq!(
        (record.execute_at, record.expires_at),
        (Some(at(BASE + 4_000)), Some(at(BASE + 9_000)))
    );
    let claimed = store.claim_due("ctl-2", at(BASE + 4_500), at(BASE + 34_500), 10)?;
    assert_eq!(ids(&claimed), vec![later]);

    let lost = store.renew_claims("ctl-1", &[first, later], at(BASE + 63_000))?;
    assert_eq!(lost, vec![later], "ctl-1 keeps only its own claim");
    assert_eq!(store.next_due()?, Some(at(BASE + 34_500)));

    // ctl-2 stops renewing: after its claim ran out, ctl-1 may claim that command again;
    // ctl-1's running command, renewed, stays with ctl-1.
    let claimed = store.claim_due("ctl-1", at(BASE + 40_000), at(BASE + 70_000), 10)?;
    assert_eq!(ids(&claimed), vec![later]);
    // ctl-1 dies while running `first`: once its claim ran out, ctl-2 takes the command over.
    let claimed = store.claim_due("ctl-2", at(BASE + 64_000), at(BASE + 94_000), 10)?;
    assert_eq!(ids(&claimed), vec![first]);
    assert_eq!(claimed[0].status, CommandStatus::Running);
    store.set_command_status(
        first,
        CommandStatus::Interrupted,
        None,
        Some("its controller stopped"),
        at(BASE + 64_000),
    )?;
    let resumed = store
        .start_claimed(first, "ctl-2", &holder("serve", 78), at(BASE + 64_001))?
        .ok_or("the new claimer resumes an interrupted command")?;
    assert_eq!(resumed.status, CommandStatus::Running);
    for id in [first, later] {
        if store.command(id)?.map(|c| c.status) == Some(CommandStatus::Scheduled) {
            store.change_scheduled(id, ScheduledChange::Cancel, at(BASE + 64_002))?;
        } else {
            store.set_command_status(
                id,
                CommandStatus::Succeeded,
                None,
                None,
                at(BASE + 65_000),
            )?;
        }
    }
    assert!(
        store
            .claim_due("ctl-3", at(BASE + 200_000), at(BASE + 230_000), 10)?
            .is_empty()
    );
    Ok(())
}

pub(super) fn controllers_announce_refresh_forget(store: &dyn Store) -> TestResult {
    let mut controller = ControllerRecord {
        id: "ci-7:4121:1".to_owned(),
        machine: "ci-7".to_owned(),
        pid: 4121,
        listen: Some("127.0.0.1:7878".to_owned()),
        wake: Some("127.0.0.1:40000".to_owned()),
        started_at: at(0),
        seen_at: at(0),
    };
    store.save_controller(&controller)?;
    controller.seen_at = at(10_000);
    controller.wake = Some("127.0.0.1:40001".to_owned());
    store.save_controller(&controller)?;
    assert_eq!(store.controllers()?, vec![controller.clone()]);
    store.forget_controller(&controller.id)?;
    assert!(store.controllers()?.is_empty());
    Ok(())
}

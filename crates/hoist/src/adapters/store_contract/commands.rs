//! The contract's command parts: lifecycle, step log, refused transitions, filters.

use hoist_core::{Action, CommandStatus};
use serde_json::json;

use super::{TestResult, at, env, holder};
use crate::error::ErrorKind;
use crate::ports::store::{CommandFilter, NewCommand, StepLogEntry, Store};

fn new_command(env_name: &str, kind: Action, created_ms: i64) -> NewCommand {
    NewCommand {
        kind,
        env: env(env_name),
        args: json!({ "hosts": ["local:/srv/app"], "at": null, "force": false }),
        requested_by: "alice@ci-7".to_owned(),
        status: CommandStatus::Scheduled,
        execute_at: Some(at(created_ms + 60_000)),
        expires_at: None,
        requested_token: None,
        created_at: at(created_ms),
    }
}

pub(super) fn command_runs_to_success_with_steps(store: &dyn Store) -> TestResult {
    let new = new_command("cmd-ok", Action::Deploy, 0);
    let inserted = store.insert_command(&new)?;
    assert!(inserted.id > 0);
    assert_eq!(inserted.kind, Action::Deploy);
    assert_eq!(inserted.env, env("cmd-ok"));
    assert_eq!(inserted.args, new.args);
    assert_eq!(inserted.requested_by, "alice@ci-7");
    assert_eq!(inserted.status, CommandStatus::Scheduled);
    assert_eq!(inserted.created_at, at(0));
    assert_eq!(inserted.execute_at, Some(at(60_000)));
    assert_eq!(
        (
            inserted.started_at,
            inserted.finished_at,
            &inserted.error,
            &inserted.runner
        ),
        (None, None, &None, &None)
    );
    assert!(inserted.steps.is_empty());
    assert_eq!(store.command(inserted.id)?, Some(inserted.clone()));

    let runner = holder("alice@ci-7", 4121);
    let running = store.set_command_status(
        inserted.id,
        CommandStatus::Running,
        Some(&runner),
        None,
        at(61_000),
    )?;
    assert_eq!(running.status, CommandStatus::Running);
    assert_eq!(running.started_at, Some(at(61_000)));
    assert_eq!(running.finished_at, None);
    assert_eq!(running.runner, Some(runner.clone()));

    let steps = [
        StepLogEntry {
            step: "provision".to_owned(),
            ok: true,
            started_at: at(61_001),
            elapsed_ms: 250,
            detail: None,
        },
        StepLogEntry {
            step: "release".to_owned(),
            ok: false,
            started_at: at(61_300),
            elapsed_ms: 1_500,
            detail: Some("rsync exited 23".to_owned()),
        },
        StepLogEntry {
            step: "release".to_owned(),
            ok: true,
            started_at: at(63_000),
            elapsed_ms: 900,
            detail: Some("retried".to_owned()),
        },
    ];
    for step in &steps {
        store.append_command_step(inserted.id, step)?;
    }
    assert_eq!(
        store.command(inserted.id)?.ok_or("record missing")?.steps,
        steps
    );

    let succeeded = store.set_command_status(
        inserted.id,
        CommandStatus::Succeeded,
        None,
        None,
        at(64_000),
    )?;
    assert_eq!(succeeded.status, CommandStatus::Succeeded);
    assert_eq!(succeeded.started_at, Some(at(61_000)));
    assert_eq!(succeeded.finished_at, Some(at(64_000)));
    assert_eq!(succeeded.error, None);
    assert_eq!(succeeded.runner, Some(runner), "who ran it stays on record");
    assert_eq!(succeeded.steps, steps);
    assert_eq!(store.command(inserted.id)?, Some(succeeded));
    assert_eq!(store.command(inserted.id + 10_000)?, None);
    Ok(())
}

pub(super) fn command_runs_to_failure_with_error(store: &dyn Store) -> TestResult {
    let id = store
        .insert_command(&new_command("cmd-fail", Action::Rollback, 0))?
        .id;
    store.set_command_status(
        id,
        CommandStatus::Running,
        Some(&holder("bob@laptop", 7)),
        None,
        at(1),
    )?;
    let failed = store.set_command_status(
        id,
        CommandStatus::Failed,
        None,
        Some("no release to roll back to"),
        at(2),
    )?;
    assert_eq!(failed.status, CommandStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("no release to roll back to"));
    assert_eq!(failed.finished_at, Some(at(2)));
    Ok(())
}

pub(super) fn forbidden_transitions_are_refused(store: &dyn Store) -> TestResult {
    let id = store
        .insert_command(&new_command("cmd-refused", Action::Destroy, 0))?
        .id;
    let refused = store
        .set_command_status(id, CommandStatus::Succeeded, None, None, at(1))
        .err()
        .ok_or("expected an error")?;
    assert_eq!(refused.kind, ErrorKind::Failed);
    assert!(
        refused.message.contains("`scheduled`") && refused.message.contains("`succeeded`"),
        "{refused}"
    );

    let cancelled = store.set_command_status(id, CommandStatus::Cancelled, None, None, at(2))?;
    assert_eq!(cancelled.finished_at, Some(at(2)));
    assert_eq!(cancelled.started_at, None);
    for next in CommandStatus::ALL {
        let refused = store
            .set_command_status(id, next, None, None, at(3))
            .err()
            .ok_or("expected an error")?;
        assert_eq!(refused.kind, ErrorKind::Failed, "cancelled -> {next}");
        assert!(refused.message.contains("`cancelled`"), "{refused}");
    }
    assert_eq!(
        store.command(id)?,
        Some(cancelled),
        "a refusal changes nothing"
    );

    let missing = id + 10_000;
    let unknown = store
        .set_command_status(missing, CommandStatus::Running, None, None, at(4))
        .err()
        .ok_or("expected an error")?;
    assert_eq!(unknown.kind, ErrorKind::Failed);
    assert!(unknown.message.contains(&missing.to_string()), "{unknown}");
    let step = StepLogEntry {
        step: "run".to_owned(),
        ok: true,
        started_at: at(5),
        elapsed_ms: 1,
        detail: None,
    };
    let unknown = store
        .append_command_step(missing, &step)
        .err()
        .ok_or("expected an error")?;
    assert_eq!(unknown.kind, ErrorKind::Failed);
    Ok(())
}

pub(super) fn commands_filter_newest_first(store: &dyn Store) -> TestResult {
    let first = store.insert_command(&new_command("filter-a", Action::Deploy, 0))?;
    let second = store.insert_command(&new_command("filter-a", Action::Run, 1))?;
    let third = store.insert_command(&new_command("filter-a", Action::Prune, 2))?;
    let other = store.insert_command(&new_command("filter-b", Action::Deploy, 3))?;
    store.set_command_status(
        second.id,
        CommandStatus::Running,
        Some(&holder("c", 1)),
        None,
        at(4),
    )?;
    let step = StepLogEntry {
        step: "create".to_owned(),
        ok: true,
        started_at: at(5),
        elapsed_ms: 3,
        detail: None,
    };
    store.append_command_step(first.id, &step)?;

    let ids = |filter: CommandFilter| -> crate::Result<Vec<i64>> {
        Ok(store
            .commands(&filter)?
            .iter()
            .map(|command| command.id)
            .collect())
    };
    let in_a = CommandFilter {
        env: Some(env("filter-a")),
        ..CommandFilter::default()
    };
    assert_eq!(ids(in_a.clone())?, [third.id, second.id, first.id]);
    assert_eq!(
        ids(CommandFilter {
            status: Some(CommandStatus::Scheduled),
            ..in_a.clone()
        })?,
        [third.id, first.id]
    );
    assert_eq!(
        ids(CommandFilter {
            limit: 2,
            ..in_a.clone()
        })?,
        [third.id, second.id]
    );
    assert_eq!(
        ids(CommandFilter {
            env: Some(env("filter-b")),
            ..CommandFilter::default()
        })?,
        [other.id]
    );

    let running = store.commands(&CommandFilter {
        status: Some(CommandStatus::Running),
        ..CommandFilter::default()
    })?;
    assert!(running.iter().any(|command| command.id == second.id));
    assert!(
        running
            .iter()
            .all(|command| command.status == CommandStatus::Running)
    );

    let listed = store.commands(&in_a)?;
    assert_eq!(listed[2].steps, [step], "listed commands carry their steps");
    assert_eq!(Some(&listed[1]), store.command(second.id)?.as_ref());
    Ok(())
}

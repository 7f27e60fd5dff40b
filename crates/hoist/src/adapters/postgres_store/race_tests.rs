//! What only several connections can show: leases, takeovers, command starts and step logs
//! raced from two stores (two pools, as two processes would have) on one database.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use hoist_core::CommandStatus;

use super::test_server::TestServer;
use super::tests::{TestResult, scheduled_command};
use super::*;
use crate::adapters::store_contract::{at, env, holder};
use crate::error::ErrorKind;

/// Runs `racer(pid)` on two threads that start together, returning both results in order.
/// Errors are returned, not unwrapped: a panicking racer would leave the other waiting at
/// the barrier forever.
fn race<T: Send + 'static>(racer: impl Fn(u32, &Barrier) -> T + Send + Sync + 'static) -> (T, T) {
    let barrier = Arc::new(Barrier::new(2));
    let racer = Arc::new(racer);
    let threads: Vec<_> = [1, 2]
        .into_iter()
        .map(|pid| {
            let (barrier, racer) = (Arc::clone(&barrier), Arc::clone(&racer));
            thread::spawn(move || racer(pid, &barrier))
        })
        .collect();
    let mut results = threads.into_iter().map(|thread| {
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    match (results.next(), results.next()) {
        (Some(first), Some(second)) => (first, second),
        _ => unreachable!("two racers were started"),
    }
}

/// Two stores (two connection pools, as two processes would have) race for the same lease
/// round after round: exactly one wins each round, and the loser sees the winner.
#[test]
fn two_stores_racing_for_a_lease_never_both_win() -> TestResult {
    const ROUNDS: usize = 100;
    let url = TestServer::shared().fresh_database();
    drop(PostgresStore::open(&url)?);
    let (first, second) = race(move |pid, barrier| {
        let store = PostgresStore::open(&url).map_err(|error| error.to_string());
        let me = holder("racer", pid);
        (0..ROUNDS)
            .map(|round| {
                barrier.wait();
                let store = store.as_ref().map_err(Clone::clone)?;
                store
                    .acquire_lease(
                        &env(&format!("race-{round}")),
                        &me,
                        Duration::from_secs(60),
                        at(0),
                    )
                    .map_err(|error| error.to_string())
            })
            .collect::<Vec<_>>()
    });
    assert_eq!((first.len(), second.len()), (ROUNDS, ROUNDS));
    for (round, outcome) in first.iter().zip(&second).enumerate() {
        match outcome {
            (Ok(LeaseOutcome::Acquired), Ok(LeaseOutcome::Held { holder, .. })) => {
                assert_eq!(holder.pid, 1, "round {round}");
            }
            (Ok(LeaseOutcome::Held { holder, .. }), Ok(LeaseOutcome::Acquired)) => {
                assert_eq!(holder.pid, 2, "round {round}");
            }
            both => panic!("round {round}: {both:?}"),
        }
    }
    Ok(())
}

/// Two stores find the same stale holder and both try to take its lease over: one does, the
/// other is told no, round after round.
#[test]
fn two_stores_taking_over_a_stale_lease_give_one_winner() -> TestResult {
    const ROUNDS: usize = 50;
    let url = TestServer::shared().fresh_database();
    let minute = Duration::from_secs(60);
    let dead = holder("crashed", 99);
    {
        let store = PostgresStore::open(&url)?;
        for round in 0..ROUNDS {
            let acquired =
                store.acquire_lease(&env(&format!("stale-{round}")), &dead, minute, at(0))?;
            assert_eq!(acquired, LeaseOutcome::Acquired);
        }
    }
    let check_url = url.clone();
    let stale = dead.clone();
    let (first, second) = race(move |pid, barrier| {
        let store = PostgresStore::open(&url).map_err(|error| error.to_string());
        let me = holder("rescuer", pid);
        (0..ROUNDS)
            .map(|round| {
                barrier.wait();
                let store = store.as_ref().map_err(Clone::clone)?;
                store
                    .take_over_lease(
                        &env(&format!("stale-{round}")),
                        &stale,
                        &me,
                        minute,
                        at(1_000),
                    )
                    .map_err(|error| error.to_string())
            })
            .collect::<Vec<_>>()
    });
    let store = PostgresStore::open(&check_url)?;
    for (round, outcome) in first.iter().zip(&second).enumerate() {
        let winner = match outcome {
            (Ok(true), Ok(false)) => 1,
            (Ok(false), Ok(true)) => 2,
            both => panic!("round {round}: {both:?}"),
        };
        let held =
            store.acquire_lease(&env(&format!("stale-{round}")), &dead, minute, at(2_000))?;
        assert_eq!(
            held,
            LeaseOutcome::Held {
                holder: holder("rescuer", winner),
                expires_at: at(61_000)
            },
            "round {round}"
        );
    }
    Ok(())
}

/// Two runners on two stores try to start the same scheduled command: one starts it, the
/// other is refused because it is already running.
#[test]
fn two_runners_never_both_start_a_command() -> TestResult {
    const COMMANDS: usize = 50;
    let url = TestServer::shared().fresh_database();
    let ids: Vec<i64> = {
        let store = PostgresStore::open(&url)?;
        (0..COMMANDS)
            .map(|_| Ok(store.insert_command(&scheduled_command("prod"))?.id))
            .collect::<crate::Result<_>>()?
    };
    let racing_ids = ids.clone();
    let check_url = url.clone();
    let (first, second) = race(move |pid, barrier| {
        let store = PostgresStore::open(&url).map_err(|error| (error.kind, error.message));
        let me = holder("runner", pid);
        racing_ids
            .iter()
            .map(|&id| {
                barrier.wait();
                store
                    .as_ref()
                    .map_err(Clone::clone)?
                    .set_command_status(id, CommandStatus::Running, Some(&me), None, at(1))
                    .map_err(|error| (error.kind, error.message))
            })
            .collect::<Vec<_>>()
    });

    let store = PostgresStore::open(&check_url)?;
    for (index, id) in ids.iter().enumerate() {
        let (first, second) = (&first[index], &second[index]);
        assert!(
            first.is_ok() != second.is_ok(),
            "command {id}: {first:?} / {second:?}"
        );
        let refusal = [first, second]
            .into_iter()
            .find_map(|result| result.as_ref().err());
        assert!(
            matches!(refusal, Some((ErrorKind::Failed, message)) if message.contains("`running`")),
            "{refusal:?}"
        );
        let winner = if first.is_ok() { 1 } else { 2 };
        let stored = store.command(*id)?.ok_or("record missing")?;
        assert_eq!(stored.runner.map(|runner| runner.pid), Some(winner));
    }
    Ok(())
}

/// Steps appended to one command from several threads at once are all kept, numbered
/// without gaps or duplicates.
#[test]
fn steps_appended_at_once_are_all_kept() -> TestResult {
    const STEPS: usize = 20;
    let url = TestServer::shared().fresh_database();
    let store = Arc::new(PostgresStore::open(&url)?);
    let id = store.insert_command(&scheduled_command("prod"))?.id;
    let writers: Vec<_> = (0..STEPS)
        .map(|step| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                let entry = StepLogEntry {
                    step: format!("host-{step}"),
                    ok: true,
                    started_at: at(0),
                    elapsed_ms: 1,
                    detail: None,
                };
                store
                    .append_command_step(id, &entry)
                    .map_err(|error| error.to_string())
            })
        })
        .collect();
    for writer in writers {
        writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    }
    let mut steps: Vec<String> = store
        .command(id)?
        .ok_or("record missing")?
        .steps
        .into_iter()
        .map(|entry| entry.step)
        .collect();
    steps.sort();
    let mut expected: Vec<String> = (0..STEPS).map(|step| format!("host-{step}")).collect();
    expected.sort();
    assert_eq!(steps, expected);
    Ok(())
}

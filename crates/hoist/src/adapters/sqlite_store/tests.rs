use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use hoist_core::{Action, CommandStatus, EnvState};
use rusqlite::Connection;

use super::migrations::{MIGRATIONS, migrate, schema_version};
use super::*;
use crate::adapters::store_contract::{at, env, holder, store_contract_tests};
use crate::error::ErrorKind;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn scheduled_command(env_name: &str) -> NewCommand {
    NewCommand {
        kind: Action::Deploy,
        env: env(env_name),
        args: serde_json::json!({}),
        requested_by: "alice@ci-7".to_owned(),
        status: CommandStatus::Scheduled,
        execute_at: None,
        expires_at: None,
        requested_token: None,
        created_at: at(0),
    }
}

#[test]
fn contract_holds_in_memory() -> TestResult {
    store_contract_tests(&SqliteStore::open_in_memory()?);
    Ok(())
}

#[test]
fn contract_holds_on_a_file_in_new_directories() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("app/.hoist/state.db");
    store_contract_tests(&SqliteStore::open(&path)?);
    assert!(path.is_file());
    Ok(())
}

#[test]
fn file_store_uses_wal_and_foreign_keys() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("state.db"))?;
    let connection = store
        .connection
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let mode: String = connection.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
    let foreign_keys: bool =
        connection.pragma_query_value(None, "foreign_keys", |row| row.get(0))?;
    let synchronous: i64 = connection.pragma_query_value(None, "synchronous", |row| row.get(0))?;
    assert_eq!((mode.as_str(), foreign_keys, synchronous), ("wal", true, 1));
    Ok(())
}

#[test]
fn reopening_keeps_data_and_runs_no_migration_twice() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let record = EnvironmentRecord {
        name: env("prod"),
        state: EnvState::Configured,
        failure: None,
        live_release: None,
        pending_release: None,
        created_at: at(0),
        updated_at: at(1),
    };
    let command_id = {
        let store = SqliteStore::open(&path)?;
        store.save_environment(&record)?;
        store.insert_command(&scheduled_command("prod"))?.id
    };

    let mut connection = Connection::open(&path)?;
    assert_eq!(schema_version(&connection)?, MIGRATIONS.len());
    assert_eq!(migrate(&mut connection, "test").ok(), Some(0));
    drop(connection);

    let store = SqliteStore::open(&path)?;
    assert_eq!(store.environment(&env("prod"))?, Some(record));
    assert_eq!(
        store.command(command_id)?.ok_or("record missing")?.env,
        env("prod")
    );
    let next = store.insert_command(&scheduled_command("prod"))?.id;
    assert!(next > command_id);
    Ok(())
}

#[test]
fn migrations_run_in_order_on_a_fresh_database() -> TestResult {
    let mut connection = Connection::open_in_memory()?;
    assert_eq!(
        migrate(&mut connection, "test").ok(),
        Some(MIGRATIONS.len())
    );
    assert_eq!(schema_version(&connection)?, MIGRATIONS.len());
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for table in [
        "command_steps",
        "commands",
        "environments",
        "events",
        "leases",
        "releases",
    ] {
        assert!(
            tables.iter().any(|name| name == table),
            "{table} in {tables:?}"
        );
    }
    Ok(())
}

#[test]
fn newer_schema_is_refused_with_a_hint() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    drop(SqliteStore::open(&path)?);
    Connection::open(&path)?.pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1)?;

    let error = SqliteStore::open(&path).err().ok_or("expected an error")?;
    assert_eq!(error.kind, ErrorKind::Failed);
    assert!(error.message.contains("newer hoist"), "{error}");
    assert!(
        error.message.contains(&path.display().to_string()),
        "{error}"
    );
    assert!(
        error
            .hints
            .iter()
            .any(|hint| hint.contains("upgrade hoist")),
        "{:?}",
        error.hints
    );
    Ok(())
}

#[test]
fn a_directory_is_refused_with_a_hint_about_state() -> TestResult {
    let dir = tempfile::tempdir()?;
    let error = SqliteStore::open(dir.path())
        .err()
        .ok_or("expected an error")?;
    assert_eq!(error.kind, ErrorKind::Failed);
    assert!(error.message.contains("cannot open state store"), "{error}");
    assert!(
        error
            .hints
            .iter()
            .any(|hint| hint.contains("--state") && hint.contains("HOIST_STATE"))
    );
    Ok(())
}

#[test]
fn a_file_that_is_not_a_database_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    std::fs::write(&path, "name = \"not sqlite\"\n".repeat(100))?;
    let error = SqliteStore::open(&path).err().ok_or("expected an error")?;
    assert_eq!(error.kind, ErrorKind::Failed);
    assert!(!error.causes.is_empty(), "{error}");
    Ok(())
}

#[test]
fn an_unreadable_row_names_the_store_and_the_operation() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path)?;
    let id = store.insert_command(&scheduled_command("prod"))?.id;
    Connection::open(&path)?
        .execute("UPDATE commands SET kind = 'teleport' WHERE id = ?1", [id])?;

    let error = store.command(id).err().ok_or("expected an error")?;
    assert_eq!(error.kind, ErrorKind::Internal);
    assert_eq!(
        error.message,
        format!("state store `{}`: cannot load command {id}", path.display())
    );
    assert!(error.to_string().contains("teleport"), "{error}");
    Ok(())
}

/// Two processes' worth of connections to one file, each on its own thread, racing for the
/// same lease round after round: exactly one wins each round, and the loser sees the winner.
#[test]
fn two_connections_racing_for_a_lease_never_both_win() -> TestResult {
    const ROUNDS: usize = 200;
    let dir = tempfile::tempdir()?;
    let path = Arc::new(dir.path().join("state.db"));
    let barrier = Arc::new(Barrier::new(2));
    let racers: Vec<_> = [1, 2]
        .into_iter()
        .map(|pid| {
            let (path, barrier) = (Arc::clone(&path), Arc::clone(&barrier));
            thread::spawn(move || {
                // Opened at the same moment too: both find a fresh file to migrate.
                barrier.wait();
                let store = SqliteStore::open(&path);
                let me = holder("racer", pid);
                // Errors are returned, not unwrapped: a panicking racer would leave the other
                // waiting at the barrier forever.
                (0..ROUNDS)
                    .map(|round| {
                        barrier.wait();
                        let env = env(&format!("race-{round}"));
                        let store = store.as_ref().map_err(ToString::to_string)?;
                        store
                            .acquire_lease(&env, &me, Duration::from_secs(60), at(0))
                            .map_err(|error| error.to_string())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut outcomes = racers.into_iter().map(|racer| {
        racer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    });
    let (first, second) = (
        outcomes.next().unwrap_or_default(),
        outcomes.next().unwrap_or_default(),
    );
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

/// Two runners on two connections try to start the same scheduled command: one starts it,
/// the other is refused because it is already running.
#[test]
fn two_runners_never_both_start_a_command() -> TestResult {
    const COMMANDS: usize = 50;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    let ids: Vec<i64> = {
        let store = SqliteStore::open(&path)?;
        (0..COMMANDS)
            .map(|_| Ok(store.insert_command(&scheduled_command("prod"))?.id))
            .collect::<crate::Result<_>>()?
    };
    let ids = Arc::new(ids);
    let barrier = Arc::new(Barrier::new(2));
    let runners: Vec<_> = [1, 2]
        .into_iter()
        .map(|pid| {
            let (path, ids, barrier) = (path.clone(), Arc::clone(&ids), Arc::clone(&barrier));
            thread::spawn(move || {
                let store = SqliteStore::open(&path).map_err(|error| (error.kind, error.message));
                let me = holder("runner", pid);
                ids.iter()
                    .map(|&id| {
                        barrier.wait();
                        store
                            .as_ref()
                            .map_err(Clone::clone)?
                            .set_command_status(id, CommandStatus::Running, Some(&me), None, at(1))
                            .map_err(|error| (error.kind, error.message))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<_> = runners
        .into_iter()
        .map(|runner| {
            runner
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
        .collect();

    let store = SqliteStore::open(&path)?;
    for (index, id) in ids.iter().enumerate() {
        let (first, second) = (&results[0][index], &results[1][index]);
        assert!(
            first.is_ok() != second.is_ok(),
            "command {id}: {first:?} / {second:?}"
        );
        let refusal = [first, second]
            .into_iter()
            .find_map(|result| result.as_ref().err());
        assert!(
            matches!(refusal, Some((ErrorKind::Failed, message)) if message.contains("`running`"))
        );
        let winner = if first.is_ok() { 1 } else { 2 };
        let stored = store.command(*id)?.ok_or("record missing")?;
        assert_eq!(stored.runner.map(|runner| runner.pid), Some(winner));
    }
    Ok(())
}

#[test]
fn webhook_secrets_are_sealed_with_a_private_key_file_beside_the_store() -> TestResult {
    use std::os::unix::fs::PermissionsExt;

    use crate::ports::webhook_store::{HookSecret, NewWebhook};
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(".hoist").join("state.db");
    let hook = |url: &str, secret: &str| -> Result<NewWebhook, Box<dyn std::error::Error>> {
        Ok(NewWebhook {
            url: url.parse()?,
            env: None,
            kinds: Vec::new(),
            secret: HookSecret::new(secret.to_owned()),
            created_by: "alice@ci-7".to_owned(),
            created_at: at(0),
        })
    };
    {
        let store = SqliteStore::open(&path)?;
        assert!(!key_file(&path).exists(), "made only when needed");
        store.add_webhook(&hook("http://127.0.0.1:9/a", "sqlite-hook-secret-0123")?)?;
    }
    let key = key_file(&path);
    assert_eq!(std::fs::metadata(&key)?.permissions().mode() & 0o777, 0o600);
    let stored: String =
        Connection::open(&path)?.query_row("SELECT secret FROM webhooks", [], |row| row.get(0))?;
    assert!(stored.starts_with("sealed:v1:"), "{stored}");

    // A row an older hoist wrote in clear is sealed the next time the store opens.
    Connection::open(&path)?.execute(
        "INSERT INTO webhooks (url, env, kinds, secret, created_by, created_at, after_event_id) \
         VALUES ('http://127.0.0.1:9/old', NULL, '[]', 'clear-old-secret-0123', 'bob', 0, 0)",
        [],
    )?;
    let store = SqliteStore::open(&path)?;
    let secrets: Vec<String> = Connection::open(&path)?
        .prepare("SELECT secret FROM webhooks ORDER BY id")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    assert!(
        secrets.iter().all(|s| s.starts_with("sealed:v1:")),
        "{secrets:?}"
    );
    let hooks = store.webhooks()?;
    assert_eq!(
        hooks
            .iter()
            .map(|hook| hook.secret.expose())
            .collect::<Vec<_>>(),
        ["sqlite-hook-secret-0123", "clear-old-secret-0123"]
    );
    drop(store);
    let bytes: Vec<u8> = ["state.db", "state.db-wal"]
        .iter()
        .flat_map(|file| std::fs::read(dir.path().join(".hoist").join(file)).unwrap_or_default())
        .collect();
    for secret in ["sqlite-hook-secret-0123", "clear-old-secret-0123"] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "`{secret}` is in the database files"
        );
    }
    Ok(())
}

//! The PostgreSQL store against a real server (`test_server`): the store contract, the
//! schema's migrations (run once, however many stores open at once), and its refusals.

use std::sync::{Arc, Barrier};
use std::thread;

use hoist_core::{Action, CommandStatus, EnvState};

use super::migrations::MIGRATIONS;
use super::test_server::TestServer;
use super::*;
use crate::adapters::secret_box::SecretKey;
use crate::adapters::store_contract::{at, env, store_contract_tests};
use crate::error::ErrorKind;

pub(super) type TestResult = Result<(), Box<dyn std::error::Error>>;

pub(super) fn scheduled_command(env_name: &str) -> NewCommand {
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

pub(super) fn admin(url: &str) -> Result<postgres::Client, postgres::Error> {
    postgres::Client::connect(url, postgres::NoTls)
}

/// A store with a key of its own, as a controller given `HOIST_SECRET_KEY` opens it.
pub(super) fn keyed(url: &str) -> Result<PostgresStore> {
    PostgresStore::open_with(url, SecretKeeper::given(SecretKey::generate()?))
}

#[test]
fn contract_holds() -> TestResult {
    let url = TestServer::shared().fresh_database();
    store_contract_tests(&keyed(&url)?);
    Ok(())
}

fn hook(secret: &str) -> Result<NewWebhook, Box<dyn std::error::Error>> {
    Ok(NewWebhook {
        url: "http://127.0.0.1:9/hook".parse()?,
        env: None,
        kinds: Vec::new(),
        secret: crate::ports::webhook_store::HookSecret::new(secret.to_owned()),
        created_by: "alice@ci-7".to_owned(),
        created_at: at(0),
    })
}

#[test]
fn webhook_secrets_are_sealed_and_need_the_shared_key() -> TestResult {
    let url = TestServer::shared().fresh_database();
    let key = SecretKey::generate()?;
    let store = PostgresStore::open_with(&url, SecretKeeper::given(key.clone()))?;
    store.add_webhook(&hook("pg-hook-secret-0123456789")?)?;
    let stored: String = admin(&url)?
        .query_one("SELECT secret FROM webhooks", &[])?
        .get(0);
    assert!(
        stored.starts_with("sealed:v1:") && !stored.contains("pg-hook-secret"),
        "{stored}"
    );
    // Another controller with the same key reads it; one without a key is told what to do.
    let same = PostgresStore::open_with(&url, SecretKeeper::given(key))?;
    assert_eq!(
        same.webhooks()?[0].secret.expose(),
        "pg-hook-secret-0123456789"
    );
    let without = PostgresStore::open(&url)?;
    let error = without.webhooks().err().ok_or("expected an error")?;
    assert!(error.to_string().contains("HOIST_SECRET_KEY"), "{error}");
    assert!(
        error
            .hints
            .iter()
            .any(|hint| hint.contains("openssl rand -hex 32"))
    );
    let error = without
        .add_webhook(&hook("another-secret-0123456789")?)
        .err()
        .ok_or("expected an error")?;
    assert!(error.to_string().contains("HOIST_SECRET_KEY"), "{error}");
    let other = PostgresStore::open_with(&url, SecretKeeper::given(SecretKey::generate()?))?;
    let error = other.webhooks().err().ok_or("expected an error")?;
    assert!(error.to_string().contains("does not open"), "{error}");
    Ok(())
}

#[test]
fn secrets_an_older_hoist_kept_in_clear_are_sealed_when_a_keyed_store_opens() -> TestResult {
    let url = TestServer::shared().fresh_database();
    // An older hoist wrote the secret as is; a store without a key still reads it.
    PostgresStore::open(&url)?;
    admin(&url)?.execute(
        "INSERT INTO webhooks (url, env, kinds, secret, created_by, created_at, after_event_id) \
         VALUES ('http://127.0.0.1:9/old', NULL, '[]', 'clear-old-secret-0123', 'bob', 0, 0)",
        &[],
    )?;
    assert_eq!(
        PostgresStore::open(&url)?.webhooks()?[0].secret.expose(),
        "clear-old-secret-0123"
    );
    let store = keyed(&url)?;
    let stored: String = admin(&url)?
        .query_one("SELECT secret FROM webhooks", &[])?
        .get(0);
    assert!(stored.starts_with("sealed:v1:"), "{stored}");
    assert_eq!(
        store.webhooks()?[0].secret.expose(),
        "clear-old-secret-0123"
    );
    Ok(())
}

#[test]
fn stores_opened_at_once_on_a_fresh_database_migrate_it_once() -> TestResult {
    const STORES: usize = 4;
    let url = Arc::new(TestServer::shared().fresh_database());
    let barrier = Arc::new(Barrier::new(STORES));
    let openers: Vec<_> = (0..STORES)
        .map(|_| {
            let (url, barrier) = (Arc::clone(&url), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                PostgresStore::open(&url).map_err(|error| error.to_string())
            })
        })
        .collect();
    for opener in openers {
        let store = opener
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        assert_eq!(store.environments()?, []);
    }
    let versions: Vec<(i32, String)> = admin(&url)?
        .query(
            "SELECT version, name FROM hoist_schema_migrations ORDER BY version",
            &[],
        )?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let expected: Vec<(i32, String)> = (1..)
        .zip(MIGRATIONS)
        .map(|(version, migration)| (version, migration.name.to_owned()))
        .collect();
    assert_eq!(versions, expected);
    Ok(())
}

#[test]
fn reopening_keeps_data_and_runs_no_migration_twice() -> TestResult {
    let url = TestServer::shared().fresh_database();
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
        let store = PostgresStore::open(&url)?;
        store.save_environment(&record)?;
        store.insert_command(&scheduled_command("prod"))?.id
    };
    let mut client = admin(&url)?;
    assert_eq!(migrations::migrate(&mut client, "test").ok(), Some(0));
    assert_eq!(
        migrations::schema_version(&mut client).ok(),
        Some(MIGRATIONS.len())
    );

    let store = PostgresStore::open(&url)?;
    assert_eq!(store.environment(&env("prod"))?, Some(record));
    let next = store.insert_command(&scheduled_command("prod"))?.id;
    assert!(next > command_id, "{next} after {command_id}");
    Ok(())
}

#[test]
fn newer_schema_is_refused_with_a_hint() -> TestResult {
    let url = TestServer::shared().fresh_database();
    drop(PostgresStore::open(&url)?);
    let future = i32::try_from(MIGRATIONS.len())? + 1;
    admin(&url)?.execute(
        "INSERT INTO hoist_schema_migrations (version, name) VALUES ($1, '0004_from_the_future')",
        &[&future],
    )?;

    let error = PostgresStore::open(&url).err().ok_or("expected an error")?;
    assert_eq!(error.kind, ErrorKind::Failed);
    assert!(error.message.contains("newer hoist"), "{error}");
    assert!(error.message.contains(&url), "{error}");
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
fn a_missing_database_is_refused_without_showing_the_password() -> TestResult {
    let server = TestServer::shared();
    let url = format!(
        "postgres://postgres:hunter2@/no_such_database?host={}",
        server.dir().display()
    );
    let error = PostgresStore::open(&url).err().ok_or("expected an error")?;
    let shown = format!("{error} {:?}", error.hints);
    assert_eq!(error.kind, ErrorKind::Failed);
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("postgres:***@"), "{shown}");
    assert!(shown.contains("no_such_database"), "{shown}");
    assert!(shown.contains("createdb"), "{shown}");
    Ok(())
}

#[test]
fn an_unreachable_server_is_refused_with_a_hint() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = format!(
        "postgresql://hoist:s3cret@/hoist?host={}&connect_timeout=2",
        dir.path().display()
    );
    let error = PostgresStore::open(&url).err().ok_or("expected an error")?;
    let shown = format!("{error} {:?}", error.hints);
    assert_eq!(error.kind, ErrorKind::Failed);
    assert!(
        error
            .message
            .starts_with("cannot open state store `postgresql://hoist:***@/hoist?"),
        "{error}"
    );
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(!error.causes.is_empty(), "{error}");
    Ok(())
}

#[test]
fn a_url_that_does_not_parse_is_refused() -> TestResult {
    let error = PostgresStore::open("postgres://hoist:pw@db:not-a-port/hoist")
        .err()
        .ok_or("expected an error")?;
    assert_eq!(error.kind, ErrorKind::Failed);
    assert!(!format!("{error}").contains(":pw@"), "{error}");
    Ok(())
}

#[test]
fn an_unreadable_row_names_the_store_the_operation_and_the_column() -> TestResult {
    let url = TestServer::shared().fresh_database();
    let store = PostgresStore::open(&url)?;
    let id = store.insert_command(&scheduled_command("prod"))?.id;
    admin(&url)?.execute(
        "UPDATE commands SET kind = 'teleport' WHERE id = $1",
        &[&id],
    )?;

    let error = store.command(id).err().ok_or("expected an error")?;
    assert_eq!(error.kind, ErrorKind::Internal);
    assert_eq!(
        error.message,
        format!("state store `{url}`: cannot load command {id}")
    );
    let shown = error.to_string();
    assert!(
        shown.contains("teleport") && shown.contains("`kind`"),
        "{shown}"
    );
    Ok(())
}

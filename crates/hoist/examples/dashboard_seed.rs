//! Fills a SQLite state store for the dashboard benchmark (`scripts/bench/dashboard.sh`):
//! ENVS environments `env-00`… running one release on one host, and COMMANDS commands spread
//! over them — mostly finished deploys with three logged steps each, a failed one here and
//! there, and one deploy per environment scheduled ahead — with their events.
//!
//! `dashboard_seed STATE_PATH ENVS COMMANDS`

#![expect(
    clippy::print_stdout,
    reason = "a benchmark helper prints what it made"
)]

use std::error::Error;
use std::path::Path;

use hoist::adapters::sqlite_store::SqliteStore;
use hoist::ports::runtime::Slot;
use hoist::ports::store::{
    EnvironmentRecord, LiveInstance, NewCommand, NewEvent, StepLogEntry, Store,
};
use hoist_core::{Action, CommandStatus, EnvName, EnvState, ReleaseId};
use jiff::{SignedDuration, Timestamp};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, envs, commands] = args.as_slice() else {
        return Err("usage: dashboard_seed STATE_PATH ENVS COMMANDS".into());
    };
    let (envs, commands): (usize, usize) = (envs.parse()?, commands.parse()?);
    let store = SqliteStore::open(Path::new(path))?;
    let now = Timestamp::now();
    let release = ReleaseId::new("20261201T090000Z", "3f2a9c1d00ff")?;
    let names: Vec<EnvName> = (0..envs)
        .map(|n| format!("env-{n:02}").parse())
        .collect::<Result<_, _>>()?;
    for name in &names {
        store.save_environment(&EnvironmentRecord {
            name: name.clone(),
            state: EnvState::Running,
            failure: None,
            live_release: Some(release.clone()),
            pending_release: None,
            created_at: now,
            updated_at: now,
        })?;
        store.save_live_instance(&LiveInstance {
            env: name.clone(),
            host: format!("local:/srv/{name}"),
            slot: Slot::Single,
            release: release.clone(),
            pid: 4242,
            port: 8080,
            recorded_at: now,
        })?;
    }
    for n in 0..commands {
        let env = &names[n % envs];
        let at = now - SignedDuration::from_secs(i64::try_from(commands - n)? * 60);
        let ahead = n + envs >= commands;
        let command = store.insert_command(&NewCommand {
            kind: Action::Deploy,
            env: env.clone(),
            args: serde_json::json!({ "kind": "deploy", "env": env }),
            requested_by: "bench".to_owned(),
            status: if ahead {
                CommandStatus::Scheduled
            } else {
                CommandStatus::Running
            },
            execute_at: ahead.then(|| now + SignedDuration::from_hours(2)),
            expires_at: ahead.then(|| now + SignedDuration::from_hours(3)),
            requested_token: None,
            created_at: at,
        })?;
        if ahead {
            continue;
        }
        for step in ["release", "run", "prune"] {
            store.append_command_step(
                command.id,
                &StepLogEntry {
                    step: step.to_owned(),
                    ok: true,
                    started_at: at,
                    elapsed_ms: 120,
                    detail: None,
                },
            )?;
        }
        let failed = n % 97 == 0;
        let status = if failed {
            CommandStatus::Failed
        } else {
            CommandStatus::Succeeded
        };
        let error = failed.then_some("run failed: the health check did not pass");
        store.set_command_status(command.id, status, None, error, at)?;
        store.append_event(&NewEvent {
            at,
            env: Some(env.clone()),
            command_id: Some(command.id),
            kind: format!("command.{status}"),
            message: format!("deploy {env} {status}"),
            actor: "bench".to_owned(),
        })?;
    }
    println!("seeded {envs} environments and {commands} commands into {path}");
    Ok(())
}

//! Several `hoist serve` processes on one PostgreSQL store share its queue: each command
//! runs exactly once, and the commands of a controller that dies are taken over once its
//! claim runs out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hoist::adapters::postgres_store::PostgresStore;
use hoist::ports::store::{CommandFilter, EventFilter, NewCommand, Store};
use hoist_core::{Action, CommandStatus, EnvName};
use jiff::{SignedDuration, Timestamp};

use crate::api_server::Server;
use crate::harness::Test;
use crate::postgres_server::TestServer;
use crate::scheduling::{command, schedule, wait_until_ended};

const COMMANDS: usize = 500;

#[test]
fn two_controllers_run_500_commands_due_at_once_each_exactly_once() {
    let url = TestServer::shared().fresh_database();
    let mut spec = crate::harness::SPEC.to_owned();
    for n in 0..COMMANDS {
        spec.push_str(&format!(
            "\n[env.e{n}]\nhosts = [\"local:{{root}}-e{n}\"]\n"
        ));
    }
    let t = Test::new().spec(&spec);
    let store = PostgresStore::open(&url).expect("open the store");
    let at = Timestamp::now() + SignedDuration::from_secs(4);
    let mut ids = Vec::new();
    for n in 0..COMMANDS {
        let env: EnvName = format!("e{n}").parse().expect("env name");
        let command = store
            .insert_command(&NewCommand {
                kind: Action::Create,
                args: serde_json::json!({ "kind": "create", "env": env }),
                env,
                requested_by: "test".to_owned(),
                status: CommandStatus::Scheduled,
                execute_at: Some(at),
                expires_at: Some(at + SignedDuration::from_mins(15)),
                requested_token: None,
                created_at: Timestamp::now(),
            })
            .expect("insert");
        ids.push(command.id);
    }
    let state = ["--state", url.as_str()];
    let controllers: Vec<Server> = (0..2)
        .map(|_| Server::start_with(&t, &[&state[..], &["--max-running", "8"]].concat(), &[]))
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let commands = store.commands(&CommandFilter::default()).expect("commands");
        let waiting = commands.iter().filter(|c| !c.status.is_terminal()).count();
        if waiting == 0 {
            for command in &commands {
                assert_eq!(command.status, CommandStatus::Succeeded, "{command:#?}");
            }
            assert_eq!(commands.len(), COMMANDS);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{waiting} commands never ended"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Run twice, a `create` would have failed the second time; and each started once.
    let mut starts: BTreeMap<i64, usize> = BTreeMap::new();
    let events = store.events(&EventFilter::default()).expect("events");
    for event in events.iter().filter(|e| e.event.kind == "command.started") {
        *starts
            .entry(event.event.command_id.expect("command id"))
            .or_default() += 1;
    }
    for &id in &ids {
        assert_eq!(
            starts.get(&id),
            Some(&1),
            "command {id} started {:?} times",
            starts.get(&id)
        );
    }
    let by: BTreeSet<String> = ids
        .iter()
        .filter_map(|&id| store.command(id).ok().flatten()?.claimed_by)
        .collect();
    assert_eq!(by.len(), 2, "both controllers took a share: {by:?}");
    drop(controllers);
}

#[test]
fn a_dead_controllers_command_is_taken_over_after_its_claim_expires() {
    let url = TestServer::shared().fresh_database();
    let spec = crate::harness::SPEC.replace(
        "post_upload = \"python3 -m py_compile app.py\"",
        "post_upload = \"sleep 2 && python3 -m py_compile app.py\"",
    );
    let t = Test::new().spec(&spec);
    let state = ["--state", url.as_str()];
    let mut first = Server::start_with(&t, &[&state[..], &["--claim-ttl", "1s"]].concat(), &[]);
    let (id, served) = schedule(
        &t,
        &[&state[..], &["deploy", "dev", "--in", "100ms"]].concat(),
    );
    assert!(served);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let running = loop {
        let now = command(&t, id, &state);
        if now["status"] == "running" {
            break now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never started: {now:#}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let first_id = running["claimed_by"].as_str().expect("claimed").to_owned();
    let second = Server::start_with(&t, &[&state[..], &["--claim-ttl", "1s"]].concat(), &[]);
    first.kill();

    // Whoever reads it first records it `interrupted` (its runner is dead); the second
    // controller then takes it over and finishes it.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let ended = loop {
        let ended = wait_until_ended(&t, id, &state, Duration::from_secs(60));
        if ended["status"] != "interrupted" || std::time::Instant::now() > deadline {
            break ended;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(ended["status"], "succeeded", "{ended:#}\n{}", second.log());
    let second_id = ended["claimed_by"].as_str().expect("claimed").to_owned();
    assert_ne!(first_id, second_id, "the second controller finished it");
    assert!(
        second_id.contains(&format!(":{}:", second.pid())),
        "{second_id}"
    );
    assert!(t.body().contains("v1"), "{}", t.body());
    let store = PostgresStore::open(&url).expect("open the store");
    let events = store
        .events(&EventFilter {
            command_id: Some(id),
            ..EventFilter::default()
        })
        .expect("events");
    assert!(
        events.iter().any(|e| e.event.kind == "command.interrupted"),
        "{events:#?}"
    );
}

#[test]
fn a_command_written_straight_into_postgres_wakes_the_controller() {
    let url = TestServer::shared().fresh_database();
    let t = Test::new();
    let state = ["--state", url.as_str()];
    let daemon = Server::start_with(&t, &state, &[]);
    // Written with no CLI in between (another machine, say): only the store's NOTIFY can
    // tell the daemon, which otherwise sleeps until a minute passes.
    std::thread::sleep(Duration::from_millis(300));
    let store = PostgresStore::open(&url).expect("open the store");
    let env: EnvName = "dev".parse().expect("env");
    let at = Timestamp::now() + SignedDuration::from_millis(300);
    let inserted = store
        .insert_command(&NewCommand {
            kind: Action::Create,
            args: serde_json::json!({ "kind": "create", "env": env }),
            env,
            requested_by: "elsewhere".to_owned(),
            status: CommandStatus::Scheduled,
            execute_at: Some(at),
            expires_at: Some(at + SignedDuration::from_mins(15)),
            requested_token: None,
            created_at: Timestamp::now(),
        })
        .expect("insert");
    let ended = wait_until_ended(&t, inserted.id, &state, Duration::from_secs(30));
    assert_eq!(ended["status"], "succeeded", "{ended:#}\n{}", daemon.log());
    let late = crate::scheduling::time(&ended["started_at"]).duration_since(at);
    assert!(late < SignedDuration::from_secs(5), "started {late:?} late");
}

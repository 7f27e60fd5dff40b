//! Every command a hint can name parses with the real command line, as the command it
//! continues and with the same arguments.

use std::time::Duration;

use clap::Parser;
use hoist_core::{Action, EnvName, HostAddress, ReleaseId};

use super::{Cli, Command, ReleasesCommand, Switch};
use crate::ops::continuation::Continuation;

/// The action `command` runs, and the release or switch it names.
fn action_of(command: &Command) -> Option<(Action, String)> {
    Some(match command {
        Command::Create(args) => (Action::Create, args.env.to_string()),
        Command::Provision(args) => (
            Action::Provision,
            format!("{} adopt={}", args.env, args.adopt.adopt),
        ),
        Command::Configure(args) => (Action::Configure, args.env.to_string()),
        Command::Release(args) => (Action::Release, args.env.to_string()),
        Command::Run(args) => (Action::Run, args.env.to_string()),
        Command::Restart(args) => (Action::Restart, args.env.to_string()),
        Command::Deploy(args) => (
            Action::Deploy,
            format!("{} ttl={:?} adopt={}", args.env, args.ttl, args.adopt.adopt),
        ),
        Command::Rollback(args) => (Action::Rollback, format!("{} to={:?}", args.env, args.to)),
        Command::Releases(ReleasesCommand::Remove { env, id, .. }) => {
            (Action::Remove, format!("{env} {id}"))
        }
        Command::Releases(ReleasesCommand::Prune { env, keep, .. }) => {
            (Action::Prune, format!("{env} keep={keep:?}"))
        }
        Command::Destroy(args) => (Action::Destroy, args.env.to_string()),
        Command::Register(args) => (
            Action::Register,
            format!("{} {:?} remove={}", args.env, args.hosts, args.remove),
        ),
        Command::Check(args) if args.fix => (Action::Repair, args.env.to_string()),
        Command::Exec(args) => (Action::Exec, format!("{} {:?}", args.env, args.command)),
        Command::Maintenance(args) => (
            Action::Maintenance,
            format!("{} on={}", args.env, args.switch == Switch::On),
        ),
        _ => return None,
    })
}

#[test]
fn every_continuation_parses_as_the_command_it_continues() {
    let env: EnvName = "dev".parse().unwrap();
    let id: ReleaseId = "20261121T235959Z-3f2a9c1d".parse().unwrap();
    let hosts: Vec<HostAddress> = vec![
        "local:/srv/a b".parse().unwrap(),
        "deploy@web1".parse().unwrap(),
    ];
    let mut cases: Vec<(Action, Continuation, String)> = Action::ALL
        .into_iter()
        .filter_map(|action| Continuation::of(action, &env).map(|c| (action, c)))
        .map(|(action, continuation)| {
            let expected = match action {
                Action::Provision => "dev adopt=false".to_owned(),
                Action::Deploy => "dev ttl=None adopt=false".to_owned(),
                Action::Rollback => "dev to=None".to_owned(),
                Action::Prune => "dev keep=None".to_owned(),
                _ => "dev".to_owned(),
            };
            (action, continuation, expected)
        })
        .collect();
    let covered: Vec<Action> = cases.iter().map(|(action, ..)| *action).collect();
    cases.extend([
        (
            Action::Provision,
            Continuation::provision_adopting(&env),
            "dev adopt=true".to_owned(),
        ),
        (
            Action::Deploy,
            Continuation::deploy(&env, true, Some(Duration::from_secs(7200))),
            "dev ttl=Some(7200s) adopt=true".to_owned(),
        ),
        (
            Action::Rollback,
            Continuation::rollback_to(&env, &id),
            format!("dev to=Some(ReleaseId(\"{id}\"))"),
        ),
        (
            Action::Remove,
            Continuation::remove(&env, &id),
            format!("dev {id}"),
        ),
        (
            Action::Prune,
            Continuation::prune(&env, Some(4)),
            "dev keep=Some(4)".to_owned(),
        ),
        (
            Action::Maintenance,
            Continuation::maintenance(&env, false),
            "dev on=false".to_owned(),
        ),
        (
            Action::Exec,
            Continuation::exec(
                &env,
                &["sh".to_owned(), "-c".to_owned(), "echo 'a b'".to_owned()],
            ),
            "dev [\"sh\", \"-c\", \"echo 'a b'\"]".to_owned(),
        ),
        (
            Action::Register,
            Continuation::register(&env, &hosts, None, true),
            format!("dev {hosts:?} remove=true"),
        ),
    ]);
    for (action, continuation, expected) in &cases {
        let argv = std::iter::once("hoist").chain(continuation.args().iter().map(String::as_str));
        let cli = Cli::try_parse_from(argv)
            .unwrap_or_else(|error| panic!("{:?} does not parse: {error}", continuation.args()));
        let parsed = action_of(&cli.command);
        assert_eq!(
            parsed,
            Some((*action, expected.clone())),
            "{:?}",
            continuation.args()
        );
    }
    // Each action without a plain continuation has one its op builds.
    for action in Action::ALL {
        assert!(
            cases.iter().any(|(a, ..)| *a == action),
            "{action} has no continuation"
        );
    }
    assert!(
        !covered.contains(&Action::Remove),
        "`remove` alone is no command"
    );
}

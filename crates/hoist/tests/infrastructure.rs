//! Which hosts an environment has: hosts adopted with `register`, hosts listed by the
//! `[env.NAME.provision]` command, `--hosts` to act on some of them, and a canary rollout
//! over several. Every host is a `local:` root in a temp dir; the specs have no `[service]`
//! (several local roots would all bind the same port), so a release is just `message.txt`.

use std::path::{Path, PathBuf};

use crate::harness::Test;

/// A static-files spec for `hosts`; `env_keys` go into `[env.dev]`, `tables` after it.
fn static_spec(hosts: &[&Path], env_keys: &str, tables: &str) -> String {
    let list: Vec<String> = hosts.iter().map(|h| format!("\"{}\"", local(h))).collect();
    format!(
        "[app]\nname = \"hello\"\n\n[build]\nupload = [\"message.txt\"]\n\n\
         [env.dev]\nhosts = [{}]\nkeep_releases = 5\n{env_keys}\n{tables}",
        list.join(", ")
    )
}

/// A second (third, …) deploy root beside the harness's.
fn other_root(t: &Test, name: &str) -> PathBuf {
    t.temp.path().join("hosts").join(name)
}

fn local(root: &Path) -> String {
    format!("local:{}", root.display())
}

/// What the release `live` points at on `root` says.
fn live_message(root: &Path) -> Option<String> {
    std::fs::read_to_string(root.join("live").join("message.txt")).ok()
}

/// The release id `live` points at on `root`.
fn live_release(root: &Path) -> Option<String> {
    let target = std::fs::read_link(root.join("live")).ok()?;
    target.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// The host addresses `status --json` lists, in its order.
fn status_hosts(t: &Test) -> Vec<String> {
    let status = t.hoist(&["status", "dev", "--json"]).success().json();
    status["hosts"]
        .as_array()
        .unwrap_or_else(|| panic!("no hosts in {status}"))
        .iter()
        .map(|h| h["address"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn registered_hosts_are_deployed_listed_updated_and_forgotten() {
    let t = Test::new();
    let t = {
        let spec = static_spec(&[&t.root], "", "");
        t.spec(&spec)
    };
    let h2 = other_root(&t, "h2");
    t.hoist(&["deploy", "dev"]).success();
    assert_eq!(live_message(&t.root).as_deref(), Some("v1\n"));

    t.hoist(&["register", "dev", "--host", &local(&h2)])
        .success()
        .stdout_contains("registered 1 host");
    assert!(!h2.exists(), "register itself does not touch the host");

    t.hoist(&["deploy", "dev"]).success();
    assert_eq!(
        live_message(&h2).as_deref(),
        Some("v1\n"),
        "the next deploy provisions and deploys the registered host"
    );
    assert_eq!(live_release(&h2), live_release(&t.root), "the same release");
    assert_eq!(status_hosts(&t), [local(&t.root), local(&h2)]);
    let status = t.hoist(&["status", "dev", "--json"]).success().json();
    for host in status["hosts"].as_array().unwrap() {
        assert!(host["error"].is_null(), "{status}");
        assert!(host["live_release"].is_string(), "{status}");
    }

    // Registering it again updates the one record; it is not listed twice.
    t.hoist(&["register", "dev", "--host", &local(&h2)])
        .success();
    assert_eq!(status_hosts(&t), [local(&t.root), local(&h2)]);

    // Forgotten: later commands leave it alone.
    t.hoist(&["register", "dev", "--remove", "--host", &local(&h2)])
        .success()
        .stdout_contains("unregistered 1 host");
    assert_eq!(status_hosts(&t), [local(&t.root)]);
    let h2_before = Test::snapshot(&h2);
    let h2_release = live_release(&h2);
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();
    assert_eq!(live_message(&t.root).as_deref(), Some("v2\n"));
    assert_eq!(live_message(&h2).as_deref(), Some("v1\n"));
    assert_eq!(live_release(&h2), h2_release);
    assert_eq!(Test::snapshot(&h2), h2_before, "a forgotten host changed");
}

#[test]
fn forgetting_a_host_that_is_not_registered_fails_with_a_hint() {
    let t = Test::new();
    let t = {
        let spec = static_spec(&[&t.root], "", "");
        t.spec(&spec)
    };
    let h2 = other_root(&t, "h2");
    t.hoist(&["deploy", "dev"]).success();
    // Never registered, and a host of the spec (removed there, not here).
    for host in [local(&h2), local(&t.root)] {
        t.hoist(&["register", "dev", "--remove", "--host", &host])
            .code(1)
            .stderr_contains("is not a registered host")
            .stderr_contains("hint:");
    }
    t.hoist(&["register", "dev", "--host", &local(&h2)])
        .success();
    t.hoist(&["register", "dev", "--remove", "--host", &local(&h2)])
        .success();
    t.hoist(&["register", "dev", "--remove", "--host", &local(&h2)])
        .code(1)
        .stderr_contains("is not a registered host");
    assert_eq!(status_hosts(&t), [local(&t.root)]);
    assert!(!h2.exists(), "register never touches the host");
    assert_eq!(live_message(&t.root).as_deref(), Some("v1\n"));
}

#[test]
fn a_provision_command_adds_the_hosts_it_prints() {
    let t = Test::new();
    let h2 = other_root(&t, "h2");
    let t = {
        let spec = static_spec(
            &[&t.root],
            "",
            "[env.dev.provision]\ncommand = \"sh provision.sh\"\n",
        );
        t.spec(&spec)
    };
    // OpenTofu's `tofu output -json`, after some chatter.
    t.write(
        "provision.sh",
        &format!(
            "echo 'Apply complete! Resources: 1 added.'\necho '{{\"hosts\": {{\"sensitive\": false, \"value\": [\"{}\"]}}}}'\n",
            local(&h2)
        ),
    );
    t.hoist(&["deploy", "dev"])
        .success()
        .stderr_contains("[2/5] provision");
    assert_eq!(live_message(&t.root).as_deref(), Some("v1\n"));
    assert_eq!(live_message(&h2).as_deref(), Some("v1\n"));
    assert_eq!(status_hosts(&t), [local(&t.root), local(&h2)]);

    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();
    assert_eq!(live_message(&h2).as_deref(), Some("v2\n"));
}

#[test]
fn the_provision_plumbing_command_reads_every_accepted_shape() {
    let t = Test::new();
    let roots: Vec<PathBuf> = ["h2", "h3", "h4"]
        .iter()
        .map(|name| other_root(&t, name))
        .collect();
    let t = {
        let spec = static_spec(
            &[&t.root],
            "",
            "[env.dev.provision]\ncommand = \"sh provision.sh\"\n",
        );
        t.spec(&spec)
    };
    // A bare list, then `{"hosts": [...]}` with a `{"host": …}` entry: each `provision`
    // registers what it lists on top of what is there.
    t.write(
        "provision.sh",
        &format!("echo '[\"{}\"]'\n", local(&roots[0])),
    );
    t.hoist(&["create", "dev"]).success();
    t.hoist(&["provision", "dev"]).success();
    assert_eq!(status_hosts(&t), [local(&t.root), local(&roots[0])]);
    t.write(
        "provision.sh",
        &format!(
            "echo '{{\"hosts\": [\"{}\", {{\"host\": \"{}\"}}]}}'\n",
            local(&roots[1]),
            local(&roots[2])
        ),
    );
    t.hoist(&["provision", "dev"]).success();
    let hosts = status_hosts(&t);
    assert_eq!(hosts.len(), 4, "{hosts:?}");
    // `deploy` from `provisioned` does not run the command again; it deploys what is there.
    t.write("provision.sh", "exit 1\n");
    t.hoist(&["deploy", "dev"]).success();
    for root in roots.iter().chain([&t.root]) {
        assert!(hosts.contains(&local(root)), "{} in {hosts:?}", local(root));
        assert_eq!(live_message(root).as_deref(), Some("v1\n"), "{root:?}");
    }
}

#[test]
fn a_failing_or_unreadable_provision_command_stops_deploy_at_provision() {
    let t = Test::new();
    let pwned = t.temp.path().join("pwned");
    let t = {
        let spec = static_spec(
            &[&t.root],
            "",
            "[env.dev.provision]\ncommand = \"sh provision.sh\"\n",
        );
        t.spec(&spec)
    };
    let failed_at_provision = |t: &Test| {
        let status = t.hoist(&["status", "dev", "--json"]).success().json();
        assert_eq!(status["failure"]["step"], "provision", "{status}");
        assert!(!t.root.exists(), "nothing was done on the spec's host");
        assert!(!pwned.exists(), "a hostile host reached a shell");
    };

    t.write(
        "provision.sh",
        "echo 'Error: quota exceeded for instances'\nexit 3\n",
    );
    t.hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains("provision")
        .stderr_contains("status 3")
        .stderr_contains("quota exceeded for instances");
    failed_at_provision(&t);

    t.write("provision.sh", "echo 'all done, 2 servers up'\n");
    t.hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains("not a host list")
        .stderr_contains("hint:")
        .stderr_contains("{\"hosts\": [...]}");
    failed_at_provision(&t);

    t.write("provision.sh", "echo '{\"hosts\": 3}'\n");
    t.hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains("not a host list");
    failed_at_provision(&t);

    t.write(
        "provision.sh",
        &format!("echo '[\"-oProxyCommand=touch {}\"]'\n", pwned.display()),
    );
    t.hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains("-oProxyCommand")
        .stderr_contains("starts with `-`");
    failed_at_provision(&t);
    assert_eq!(status_hosts(&t), [local(&t.root)], "nothing was registered");

    // Fixed, the same deploy carries on from provision.
    t.write("provision.sh", "echo '[]'\n");
    t.hoist(&["deploy", "dev"])
        .success()
        .stderr_contains("provision");
    assert_eq!(live_message(&t.root).as_deref(), Some("v1\n"));
}

#[test]
fn hosts_limits_deploy_and_rollback_to_the_named_hosts() {
    let t = Test::new();
    let root2 = other_root(&t, "h2");
    let t = {
        let spec = static_spec(&[&t.root, &root2], "", "");
        t.spec(&spec)
    };
    t.hoist(&["deploy", "dev"]).success();
    let first = live_release(&t.root).expect("live on the first host");
    assert_eq!(live_release(&root2).as_deref(), Some(first.as_str()));

    t.write("message.txt", "v2\n");
    let only_root2 = format!("--hosts={}", local(&root2));
    let root_before = Test::snapshot(&t.root);
    t.hoist(&["deploy", "dev", &only_root2]).success();
    assert_eq!(live_message(&root2).as_deref(), Some("v2\n"));
    let second = live_release(&root2).unwrap();
    assert_ne!(second, first);
    assert_eq!(live_release(&t.root).as_deref(), Some(first.as_str()));
    assert_eq!(
        Test::snapshot(&t.root),
        root_before,
        "the host left out changed"
    );

    t.hoist(&["rollback", "dev", &only_root2]).success();
    assert_eq!(live_release(&root2).as_deref(), Some(first.as_str()));
    assert_eq!(live_message(&root2).as_deref(), Some("v1\n"));
    assert_eq!(
        Test::snapshot(&t.root),
        root_before,
        "the host left out changed"
    );

    // A host the environment does not have: refused, naming the ones it has.
    let stranger = other_root(&t, "stranger");
    let root2_before = Test::snapshot(&root2);
    for verb in ["deploy", "rollback"] {
        t.hoist(&[verb, "dev", "--hosts", &local(&stranger)])
            .code(1)
            .stderr_contains(&local(&stranger))
            .stderr_contains(&local(&t.root))
            .stderr_contains(&local(&root2));
    }
    assert!(!stranger.exists());
    assert_eq!(Test::snapshot(&t.root), root_before);
    assert_eq!(Test::snapshot(&root2), root2_before);
}

#[test]
fn a_canary_rollout_one_at_a_time_reaches_every_host() {
    let t = Test::new();
    let roots = [t.root.clone(), other_root(&t, "h2"), other_root(&t, "h3")];
    let t = {
        let spec = static_spec(
            &roots.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
            "parallel = 1\ncanary = 1",
            "",
        );
        t.spec(&spec)
    };
    t.hoist(&["deploy", "dev"]).success();
    let first = live_release(&roots[0]).expect("live on the canary");
    for root in &roots {
        assert_eq!(live_message(root).as_deref(), Some("v1\n"), "{root:?}");
        assert_eq!(live_release(root).as_deref(), Some(first.as_str()));
    }

    let status = t.hoist(&["status", "dev", "--json"]).success().json();
    let steps = status["last_command"]["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps in {status}"));
    for root in &roots {
        let name = format!("run @ {}", local(root));
        let entry = steps
            .iter()
            .find(|s| s["step"] == name.as_str())
            .unwrap_or_else(|| panic!("no `{name}` step in {status}"));
        assert_eq!(entry["ok"], true, "{entry}");
    }
}

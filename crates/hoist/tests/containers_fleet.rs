//! Containers on real SSH hosts (the testbed): an image built here travels to each host's own
//! registry through the SSH connection (no outside registry), the hosts run it blue-green, a
//! redeploy swaps it under load with no failed request, and `destroy` leaves neither the
//! registry process nor a container behind.

use std::net::SocketAddr;

use crate::containers::container_test;
use crate::harness::http_get_at;
use crate::load_loop::LoadLoop;
use crate::test_registry::TestRegistry;
use crate::testbed::Testbed;

#[test]
fn a_built_image_travels_to_ssh_hosts_and_is_swapped_there_under_load() {
    let Some(tb) = Testbed::up(2, false) else {
        return;
    };
    let t = container_test();
    let spec = std::fs::read_to_string(t.project.join("Hoist.toml")).unwrap();
    let env_start = spec.find("[env.dev]").unwrap();
    let hosts: Vec<String> = tb.hosts.iter().map(|h| format!("\"root@{h}\"")).collect();
    let spec = format!(
        "{}[env.fleet]\nhosts = [{}]\nroot = \"/srv/app\"\nssh_config = \"{}\"\nconnect_timeout = \"3s\"\nvars = {{ GREETING = \"hi\" }}\nsecrets = [\"API_TOKEN\"]\n",
        &spec[..env_start],
        hosts.join(", "),
        tb.ssh_config.display()
    );
    t.write("Hoist.toml", &spec);
    let deploy = || t.hoist_with(&["deploy", "fleet"], &[("API_TOKEN", "fleet-token-value")]);
    deploy().success();
    let address =
        |host: usize| -> SocketAddr { format!("{}:{}", tb.hosts[host], t.port).parse().unwrap() };
    for host in 0..2 {
        let (status, body) = http_get_at(address(host), "/").unwrap();
        assert_eq!((status, body.trim()), (200, "v1"), "h{}", host + 1);
        // Each host keeps its own registry under its root.
        let registry = tb
            .dir()
            .join(format!("h{}", host + 1))
            .join("srv/app/.hoist/registry");
        assert!(
            registry.join("registry.json").is_file(),
            "{}",
            registry.display()
        );
    }

    let load = LoadLoop::start_at(address(0), "/", 3);
    t.write("message.txt", "v2\n");
    deploy().success();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let result = load.finish();
    assert_eq!(result.failures, Vec::<String>::new(), "failed requests");
    assert!(result.requests > 10, "{} requests", result.requests);
    for host in 0..2 {
        let (_, body) = http_get_at(address(host), "/").unwrap();
        assert_eq!(body.trim(), "v2", "h{}", host + 1);
    }
    let check = t.hoist(&["check", "fleet", "--json"]).json();
    assert_eq!(check["ok"], true, "{check:#}");

    let registry_pids: Vec<u32> = (0..2)
        .map(|host| {
            let record = tb
                .dir()
                .join(format!("h{}", host + 1))
                .join("srv/app/.hoist/registry/registry.json");
            let record: serde_json::Value =
                serde_json::from_slice(&std::fs::read(record).unwrap()).unwrap();
            u32::try_from(record["pid"].as_u64().unwrap()).unwrap()
        })
        .collect();
    t.hoist(&["destroy", "fleet", "--yes"]).success();
    for pid in registry_pids {
        // Gone, or at most a zombie its parent has yet to reap.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        assert!(
            matches!(state, None | Some("Z")),
            "registry pid {pid} outlived destroy: {stat}"
        );
    }
}

/// Host h1's network namespace, from its sshd's pid.
fn netns_of_h1(tb: &Testbed) -> String {
    let pid = std::fs::read_to_string(tb.dir().join("h1/sshd.pid")).unwrap();
    let output = std::process::Command::new("ip")
        .args(["netns", "identify", pid.trim()])
        .output()
        .unwrap();
    let netns = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(!netns.is_empty(), "h1's network namespace");
    netns
}

#[test]
fn an_ssh_host_pulls_an_image_from_its_registry_and_runs_it() {
    let Some(tb) = Testbed::up(1, false) else {
        return;
    };
    let mut registry = TestRegistry::start(Some(&netns_of_h1(&tb)));
    registry.install_drop_in();
    let t = container_test();
    let local = format!("localhost/hoist-test/fleet-pulled-{}:1", t.port);
    let built = std::process::Command::new("podman")
        .args(["build", "--quiet", "--tag", &local])
        .arg(&t.project)
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let reference = registry.push(&local, &format!("fleet-pulled-{}:1", t.port));
    std::process::Command::new("podman")
        .args(["rmi", &local])
        .output()
        .unwrap();

    let spec = std::fs::read_to_string(t.project.join("Hoist.toml")).unwrap();
    let env_start = spec.find("[env.dev]").unwrap();
    let spec = format!(
        "{}[env.fleet]\nhosts = [\"root@{}\"]\nroot = \"/srv/app\"\nssh_config = \"{}\"\nconnect_timeout = \"3s\"\nvars = {{ GREETING = \"hi\" }}\nsecrets = [\"API_TOKEN\"]\n",
        &spec[..env_start],
        tb.hosts[0],
        tb.ssh_config.display()
    )
    .replace("[build]\ncontainerfile = \"Containerfile\"\n", "")
    .replace(
        "runtime = \"container\"",
        &format!("runtime = \"container\"\nimage = \"{reference}\""),
    );
    t.write("Hoist.toml", &spec);
    t.hoist_with(&["deploy", "fleet"], &[("API_TOKEN", "fleet-token-value")])
        .success();
    let address: SocketAddr = format!("{}:{}", tb.hosts[0], t.port).parse().unwrap();
    let (status, body) = http_get_at(address, "/").unwrap();
    assert_eq!((status, body.trim()), (200, "v1"));
    // Pulled, not shipped: the host never needed a registry of hoist's.
    assert!(!tb.dir().join("h1/srv/app/.hoist/registry").exists());
    t.hoist(&["destroy", "fleet", "--yes"]).success();
    std::process::Command::new("podman")
        .args(["rmi", &reference])
        .output()
        .unwrap();
}

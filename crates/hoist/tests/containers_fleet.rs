//! Containers on real SSH hosts (the testbed): an image built here travels to each host's own
//! registry through the SSH connection (no outside registry), the hosts run it blue-green, a
//! redeploy swaps it under load with no failed request, and `destroy` leaves neither the
//! registry process nor a container behind.

use std::net::SocketAddr;

use crate::containers::container_test;
use crate::harness::http_get_at;
use crate::load_loop::LoadLoop;
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

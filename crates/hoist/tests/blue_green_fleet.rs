//! Blue-green on real SSH hosts (network namespaces): each host runs its own proxy on the
//! service port, swaps with no failed request seen from outside, restarts a dead proxy on
//! `run`, and `destroy` leaves no process behind.

use std::net::SocketAddr;
use std::process::Command;

use crate::blue_green::blue_green_spec;
use crate::harness::{Test, http_get_at};
use crate::load_loop::LoadLoop;
use crate::testbed::Testbed;

fn spec(t: &Test, tb: &Testbed) -> String {
    let base = blue_green_spec().replace("{port}", &t.port.to_string());
    let service_and_more = &base[base.find("[hooks]").unwrap()..base.find("[env.dev]").unwrap()];
    let hosts: Vec<String> = tb.hosts.iter().map(|h| format!("\"root@{h}\"")).collect();
    format!(
        "[app]\nname = \"hello\"\n\n[build]\nupload = [\"app.py\", \"message.txt\"]\n\n{service_and_more}\
         [env.fleet]\nhosts = [{}]\nroot = \"/srv/app\"\nssh_config = \"{}\"\nconnect_timeout = \"3s\"\n",
        hosts.join(", "),
        tb.ssh_config.display(),
    )
}

/// The proxies of this test: its testbed's, listening on its own port (other tests' testbeds
/// run proxies with the same `/srv/app` path in their own mount namespaces).
fn proxies_of(tb: &Testbed, port: u16) -> Vec<String> {
    let output = Command::new("pgrep")
        .args(["-af", "proxy --listen"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| {
            line.contains(&tb.dir().display().to_string()) || line.contains("/srv/app/run/proxy")
        })
        .filter(|line| line.contains(&format!(":{port} ")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn blue_green_on_two_ssh_hosts_behind_their_proxies() {
    let Some(tb) = Testbed::up(2, false) else {
        return;
    };
    let t = Test::new();
    t.write("Hoist.toml", &spec(&t, &tb));
    t.hoist(&["deploy", "fleet"])
        .success()
        .stderr_contains("started the proxy");
    let address = |host: &str| -> SocketAddr { format!("{host}:{}", t.port).parse().unwrap() };
    for host in &tb.hosts {
        let (status, body) = http_get_at(address(host), "/").unwrap();
        assert_eq!(status, 200, "{host}");
        assert!(body.contains("v1"), "{host}: {body}");
    }

    let load = LoadLoop::start_at(address(&tb.hosts[0]), "/", 3);
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "fleet"]).success();
    let result = load.finish();
    assert!(result.requests > 20, "{}", result.requests);
    assert_eq!(
        result.failures,
        Vec::<String>::new(),
        "requests failed during the swap"
    );
    for host in &tb.hosts {
        assert!(
            http_get_at(address(host), "/").unwrap().1.contains("v2"),
            "{host}"
        );
    }
    t.hoist(&["check", "fleet"]).success();

    // A dead proxy on one host: `check` names it, `run` starts it again with its route.
    let dead = t.hoist(&["check", "fleet", "--json"]).json();
    let pid = dead["hosts"][1]["proxy"]["pid"].as_i64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    t.hoist(&["check", "fleet"])
        .code(1)
        .stdout_contains("is not running");
    t.hoist(&["run", "fleet"])
        .success()
        .stderr_contains("started it again with its routes");
    assert!(
        http_get_at(address(&tb.hosts[1]), "/")
            .unwrap()
            .1
            .contains("v2")
    );

    t.hoist(&["rollback", "fleet"]).success();
    for host in &tb.hosts {
        assert!(
            http_get_at(address(host), "/").unwrap().1.contains("v1"),
            "{host}"
        );
    }
    assert_eq!(
        proxies_of(&tb, t.port).len(),
        2,
        "{:?}",
        proxies_of(&tb, t.port)
    );
    t.hoist(&["destroy", "fleet", "--yes"]).success();
    assert_eq!(
        proxies_of(&tb, t.port),
        Vec::<String>::new(),
        "destroy stops the proxies"
    );
}

//! Connections that outlive a command (`ssh_persist`), end to end with the CLI and real sshd
//! hosts: a second command rides the first one's master; the master goes when its window
//! ends, unless `hoist serve` keeps it warm; `destroy` leaves none behind.

use std::time::{Duration, Instant};

use crate::api_server::Server;
use crate::harness::Test;
use crate::testbed::Testbed;

/// The processes holding an ssh connection to the testbed's host: its masters. (A master
/// that carried a session renames itself `ssh: <socket> [mux]`, so its command line does not
/// tell.)
fn masters(tb: &Testbed) -> Vec<u32> {
    let output = std::process::Command::new("ss")
        .args(["-Htnp", "state", "established", "dst"])
        .arg(format!("{}:22", tb.hosts[0]))
        .output()
        .unwrap();
    let mut pids: Vec<u32> = String::from_utf8_lossy(&output.stdout)
        .split("pid=")
        .skip(1)
        .filter_map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

fn spec(t: &Test, tb: &Testbed, persist: &str) -> String {
    let base = std::fs::read_to_string(t.project.join("Hoist.toml")).unwrap();
    let service_and_more = &base[base.find("[hooks]").unwrap()..base.find("[env.dev]").unwrap()];
    format!(
        "[app]\nname = \"hello\"\n\n[build]\nupload = [\"app.py\", \"message.txt\"]\n\n{service_and_more}\
         [env.warm]\nhosts = [\"root@{}\"]\nroot = \"/srv/app\"\nssh_config = \"{}\"\nssh_persist = \"{persist}\"\n",
        tb.hosts[0],
        tb.ssh_config.display(),
    )
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_master_outlives_the_command_and_destroy_closes_it() {
    let Some(tb) = Testbed::up(1, false) else {
        return;
    };
    let t = Test::new();
    t.write("Hoist.toml", &spec(&t, &tb, "60s"));
    t.hoist(&["deploy", "warm"]).success();
    let first = masters(&tb);
    assert_eq!(first.len(), 1, "one master stays up: {first:?}");
    t.hoist(&["status", "warm"]).success();
    assert_eq!(
        masters(&tb),
        first,
        "the next command rides the same master"
    );
    // Killed between two commands: the next one opens another and says nothing of it.
    std::process::Command::new("kill")
        .args(["-9", &first[0].to_string()])
        .status()
        .unwrap();
    wait_until("the master is gone", Duration::from_secs(5), || {
        masters(&tb).is_empty()
    });
    let status = t.hoist(&["status", "warm", "--json"]).success();
    let stderr = &status.stderr;
    assert!(
        !stderr.contains("ontrol socket") && !stderr.contains("error"),
        "{stderr}"
    );
    assert_eq!(status.json()["hosts"][0]["instance"]["alive"], true);
    let replaced = masters(&tb);
    assert_eq!(replaced.len(), 1);
    assert_ne!(replaced, first);
    t.hoist(&["destroy", "warm", "--yes"]).success();
    wait_until("destroy closed the master", Duration::from_secs(5), || {
        masters(&tb).is_empty()
    });
}

#[test]
fn the_master_goes_after_its_window_unless_serve_keeps_it_warm() {
    let Some(tb) = Testbed::up(1, false) else {
        return;
    };
    let t = Test::new();
    t.write("Hoist.toml", &spec(&t, &tb, "2s"));
    t.hoist(&["deploy", "warm"]).success();
    assert_eq!(masters(&tb).len(), 1);
    wait_until("the 2 s window ended", Duration::from_secs(10), || {
        masters(&tb).is_empty()
    });

    let server = Server::start(&t, &[]);
    wait_until(
        "serve opened the connection",
        Duration::from_secs(10),
        || masters(&tb).len() == 1,
    );
    // The `ssh -f` that starts a master shows for a moment beside the master it leaves.
    std::thread::sleep(Duration::from_millis(500));
    let kept = masters(&tb);
    assert_eq!(kept.len(), 1);
    // Three windows later, the same master is still up.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(masters(&tb), kept, "serve keeps it warm:\n{}", server.log());
    drop(server);
    wait_until(
        "the window ended without serve",
        Duration::from_secs(10),
        || masters(&tb).is_empty(),
    );
}

/// A host that goes away without a word (its link down) while a master to it is kept up: the
/// next command gives it up about as soon as a new connection would, not after ssh's 45 s.
#[test]
fn a_kept_master_to_a_host_that_went_silent_does_not_hold_the_next_command() {
    let Some(tb) = Testbed::up(1, false) else {
        return;
    };
    let t = Test::new();
    t.write(
        "Hoist.toml",
        &spec(&t, &tb, "60s").replace("ssh_persist", "connect_timeout = \"3s\"\nssh_persist"),
    );
    t.hoist(&["deploy", "warm"]).success();
    assert_eq!(masters(&tb).len(), 1);
    let state = std::fs::read_to_string(tb.dir().join("testbed.state")).unwrap();
    let prefix = state
        .lines()
        .find_map(|line| line.strip_prefix("PREFIX="))
        .unwrap()
        .to_owned();
    let link = format!("{prefix}v1");
    let set = |state: &str| {
        let status = std::process::Command::new("ip")
            .args(["link", "set", &link, state])
            .status()
            .unwrap();
        assert!(status.success());
    };
    set("down");
    let started = Instant::now();
    let status = t.hoist(&["status", "warm", "--json"]);
    let took = started.elapsed();
    set("up");
    assert!(
        status.stdout.contains("\"reachable\": false")
            || status.stdout.contains("\"reachable\":false"),
        "{}\n{}",
        status.stdout,
        status.stderr
    );
    // 3 s timeout: keepalives every 2 s, given up after 2 unanswered; ssh's old 15 s × 3
    // would be 45 s and more.
    assert!(took < Duration::from_secs(25), "took {took:?}");
}

//! Honest health: a port another process holds is refused before start, naming the holder;
//! a probe counts only the answers of the instance hoist started. Two environments of one
//! spec with the same `port` on one host, locally and over SSH; a foreign listener answering
//! for an instance that does not listen; a holder hoist may not inspect.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{SPEC, Test, stop_everything};
use crate::testbed::Testbed;

/// Stops what hoist started for a second deploy root, which `Test` does not know.
struct OtherRoot(PathBuf);

impl Drop for OtherRoot {
    fn drop(&mut self) {
        stop_everything(&self.0);
    }
}

/// The pid recorded in `<root>/run/instance.json`.
fn instance_pid(root: &Path) -> u64 {
    let text = std::fs::read_to_string(root.join("run/instance.json")).unwrap();
    let record: serde_json::Value = serde_json::from_str(&text).unwrap();
    record["pid"].as_u64().unwrap()
}

/// `status ENV --json` and `check ENV --json` of an environment that never served: nothing
/// says it runs or is healthy, and the failure names the holder.
fn assert_truthfully_down(t: &Test, env: &str, holder: &str) {
    let status = t.hoist(&["status", env, "--json"]).success().json();
    assert_ne!(status["state"], "running", "{status}");
    assert!(
        status["failure"]["error"]
            .as_str()
            .is_some_and(|error| error.contains(holder)),
        "{status}"
    );
    let host = &status["hosts"][0];
    assert!(host["instance"].is_null(), "{status}");
    let check = t.hoist(&["check", env, "--json"]).json();
    let host = &check["hosts"][0];
    assert_eq!(host["instance_alive"], false, "{check}");
    assert_ne!(host["healthy"], true, "{check}");
}

#[test]
fn a_second_environment_on_a_taken_port_is_refused_naming_the_first() {
    let spec = format!("{SPEC}\n[env.other]\nhosts = [\"local:{{root}}-other\"]\n");
    let t = Test::new().spec(&spec);
    let other = OtherRoot(PathBuf::from(format!("{}-other", t.root.display())));
    t.hoist(&["deploy", "dev"]).success();
    let serving = t.body();
    let pid = instance_pid(&t.root);

    // The listener is the service, in the group its monitor (the recorded pid) leads.
    let holder = format!("port {} is already taken by pid ", t.port);
    let group = format!("process group {pid}), an instance of another deploy root");
    let outcome = t
        .hoist(&["deploy", "other"])
        .code(1)
        .stderr_contains(&holder)
        .stderr_contains("python3 app.py`, ")
        .stderr_contains(&group)
        .stderr_contains("hint: free the port, or pick another `port`");
    assert!(
        !outcome.stderr.contains("healthy after"),
        "{}",
        outcome.stderr
    );
    assert!(!other.0.join("run/instance.json").exists());

    // The first keeps serving, untouched; the second says it is not.
    assert_eq!(t.body(), serving);
    assert_eq!(instance_pid(&t.root), pid);
    t.hoist(&["check", "dev"]).success();
    assert_truthfully_down(&t, "other", &holder);
    // Trying again is refused the same way, and still leaves the first alone.
    t.hoist(&["deploy", "other"])
        .code(1)
        .stderr_contains(&holder);
    assert_eq!(t.body(), serving);
}

#[test]
fn check_names_what_holds_the_port_of_a_root_deleted_by_hand_and_how_to_stop_it() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let group = instance_pid(&t.root);
    let root_id = std::fs::read_to_string(t.root.join(".hoist/root-id")).unwrap();
    // The root removed by hand: its instance keeps running, from a directory that is gone.
    std::fs::remove_dir_all(&t.root).unwrap();
    let stop = OrphanGroup {
        group,
        port: t.port,
        root_id,
    };
    let check = t.hoist(&["check", "dev", "--json"]).json();
    let problems = check["hosts"][0]["problems"].to_string();
    assert!(
        problems.contains(&format!("port {} is taken by pid ", t.port)),
        "{check}"
    );
    assert!(problems.contains("which was deleted"), "{check}");
    assert!(
        problems.contains(&format!("`kill -TERM -- -{group}`")),
        "{check}"
    );

    // Stopped as the problem says, check names no holder and deploy brings the service back.
    drop(stop);
    let check = t.hoist(&["check", "dev", "--json"]).json();
    assert!(
        !check["hosts"][0]["problems"]
            .to_string()
            .contains("is taken by"),
        "{check}"
    );
    t.hoist(&["deploy", "dev"]).success();
    t.hoist(&["check", "dev"]).success();
}

/// SIGTERMs a process group (an instance whose root is gone, which `Test` cannot stop) and
/// waits until nothing answers on its port (its processes stay as zombies here: the
/// sandbox's init does not reap them); removes the gone root's boot entry, which the harness
/// cannot find without the root.
struct OrphanGroup {
    group: u64,
    port: u16,
    root_id: String,
}

impl Drop for OrphanGroup {
    fn drop(&mut self) {
        crate::harness::remove_boot_entry_of_root_id(&self.root_id);
        use nix::sys::signal::{Signal, killpg};
        use nix::unistd::Pid;
        let Ok(raw) = i32::try_from(self.group) else {
            return;
        };
        let group = Pid::from_raw(raw);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            if Instant::now() >= deadline {
                let _ = killpg(group, Signal::SIGKILL);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn a_foreign_listener_answering_for_a_silent_instance_fails_the_probe_at_once() {
    let t = Test::new();
    let pid_file = t.temp.path().join("foreign.pid");
    // The instance never listens; the start hook leaves a web server of its own on the port.
    let spec = SPEC
        .replace("exec python3 app.py", "exec sleep 600")
        .replace("path = \"/health\"", "path = \"/\"")
        .replace("deadline = \"10s\"", "deadline = \"30s\"")
        .replace(
            "[hooks]\n",
            &format!(
                "[hooks]\nstart = \"python3 -m http.server {{port}} --bind 127.0.0.1 \
                 >/dev/null 2>&1 & echo $! > {}\"\n",
                pid_file.display()
            ),
        );
    let t = t.spec(&spec);
    let foreign = ForeignServer(pid_file);
    let started = Instant::now();
    let outcome = t
        .hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains("failed its health check");
    let pid = foreign.pid();
    assert!(
        outcome
            .stderr
            .contains(&format!("port {} is answered by pid {pid} (`", t.port)),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("http.server"), "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("not by the instance"),
        "{}",
        outcome.stderr
    );
    assert!(
        !outcome.stderr.contains("healthy after"),
        "{}",
        outcome.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the probe waited for its 30 s deadline: {:?}",
        started.elapsed()
    );
    // The foreign server still answers; hoist does not call it the environment's.
    assert!(t.get("/").is_ok_and(|(status, _)| status == 200));
    let check = t.hoist(&["check", "dev", "--json"]).json();
    assert_ne!(check["hosts"][0]["healthy"], true, "{check}");
}

/// The web server a start hook left running; killed by the pid it wrote.
struct ForeignServer(PathBuf);

impl ForeignServer {
    fn pid(&self) -> i32 {
        let text = std::fs::read_to_string(&self.0).unwrap();
        text.trim().parse().unwrap()
    }
}

impl Drop for ForeignServer {
    fn drop(&mut self) {
        if let Ok(text) = std::fs::read_to_string(&self.0)
            && let Ok(pid) = text.trim().parse::<i32>()
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[test]
fn a_holder_hoist_may_not_inspect_is_described_as_such() {
    if !nix::unistd::geteuid().is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "this test needs root to run hoist as another user, and CI must run it"
        );
        eprintln!("SKIPPED (needs root to run hoist as another user)");
        return;
    }
    // This (root) process holds the port; hoist runs as `nobody`, who may not read its fds.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let temp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = temp.path().join("root");
    std::fs::create_dir(&root).unwrap();
    std::os::unix::fs::chown(&root, Some(65534), Some(65534)).unwrap();
    let request = serde_json::json!({
        "op": "runtime_start",
        "slot": "single",
        "spec": {
            "release": "20260101T000000Z-aaaaaaaa",
            "command": "exec sleep 600",
            "port": port,
            "env": [],
        },
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(["host", "--root", &root.display().to_string(), "call"])
        .uid(65534)
        .gid(65534)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let response: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(
        response["error"]["message"],
        format!("port {port} is already taken by a process of uid 0 that hoist may not inspect"),
        "{response}"
    );
    assert!(!root.join("run/instance.json").exists());
}

/// A spec with environments `a` and `b` on the testbed host `address`, deploy roots
/// `/srv/a` and `/srv/b`, both with the service's one `port`.
fn two_roots_spec(t: &Test, tb: &Testbed, address: &str) -> String {
    let base = std::fs::read_to_string(t.project.join("Hoist.toml")).unwrap();
    let service_and_more = &base[base.find("[hooks]").unwrap()..base.find("[env.dev]").unwrap()];
    let env = |name: &str| {
        format!(
            "[env.{name}]\nhosts = [\"root@{address}\"]\nroot = \"/srv/{name}\"\n\
             ssh_config = \"{}\"\nconnect_timeout = \"3s\"\n\n",
            tb.ssh_config.display()
        )
    };
    format!(
        "[app]\nname = \"hello\"\n\n[build]\nupload = [\"app.py\", \"message.txt\"]\n\n\
         {service_and_more}{}{}",
        env("a"),
        env("b")
    )
}

/// `GET /` on the testbed host `address`, from inside its network namespace.
fn remote_body(tb: &Testbed, address: &str, port: u16) -> String {
    let script = format!(
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=5).read().decode(), end='')"
    );
    let output = Command::new("ssh")
        .args(["-F", &tb.ssh_config.display().to_string()])
        .arg(format!("root@{address}"))
        .args(["python3", "-c"])
        .arg(format!("\"{script}\""))
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_second_root_on_a_taken_port_of_an_ssh_host_is_refused_naming_the_first() {
    let Some(tb) = Testbed::up(1, false) else {
        return;
    };
    let t = Test::new();
    let address = tb.hosts[0].clone();
    t.write("Hoist.toml", &two_roots_spec(&t, &tb, &address));
    t.hoist(&["deploy", "a"]).success();
    let serving = remote_body(&tb, &address, t.port);
    assert!(serving.contains("v1"), "{serving}");
    let root_a = tb.dir().join("h1/srv/a");
    let pid = instance_pid(&root_a);

    // The listener is the service, in the group its monitor (the recorded pid) leads.
    let holder = format!("port {} is already taken by pid ", t.port);
    let group = format!("process group {pid}), an instance of another deploy root");
    let outcome = t
        .hoist(&["deploy", "b"])
        .code(1)
        .stderr_contains(&holder)
        .stderr_contains("python3 app.py`, ")
        .stderr_contains(&group);
    assert!(
        !outcome.stderr.contains("healthy after"),
        "{}",
        outcome.stderr
    );
    assert!(!tb.dir().join("h1/srv/b/run/instance.json").exists());

    assert_eq!(remote_body(&tb, &address, t.port), serving);
    assert_eq!(instance_pid(&root_a), pid);
    t.hoist(&["check", "a"]).success();
    assert_truthfully_down(&t, "b", &holder);
    t.hoist(&["destroy", "a", "--yes"]).success();
}

//! Container workloads with real podman on this machine: an image built from a Containerfile
//! (a static busybox, no registry), swapped blue-green under load, a failed probe that keeps
//! the old container serving, a secret that never shows in `ps` or in what hoist records,
//! strays found and removed by `check --fix`.

use std::path::Path;
use std::process::Command;

use crate::blue_green::assert_converged;
use crate::harness::Test;
use crate::load_loop::LoadLoop;

pub const API_TOKEN: &str = "ctr-secret-5e4d3c2b1a";

pub const CONTAINER_SPEC: &str = r#"
[app]
name = "boxed"

[build]
containerfile = "Containerfile"

[service]
runtime = "container"
port = {port}
container_port = 8080
stop_grace = "3s"
drain = "1s"

[service.health]
path = "/health"
interval = "100ms"
timeout = "1s"
deadline = "20s"

[env.dev]
hosts = ["local:{root}"]
keep_releases = 3
vars = { GREETING = "hi" }
secrets = ["API_TOKEN"]
"#;

/// The spec with the test's own app name, `boxed-<port>`.
pub fn container_spec(t: &Test) -> String {
    CONTAINER_SPEC.replace("name = \"boxed\"", &format!("name = \"{}\"", app_name(t)))
}

pub fn app_name(t: &Test) -> String {
    format!("boxed-{}", t.port)
}

/// The image: a static busybox and a script that serves `message.txt` on `$PORT` and leaves
/// on SIGTERM (as PID 1 it would otherwise ignore it).
const CONTAINERFILE: &str = r#"FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY serve.sh message.txt /app/
CMD ["/bin/sh", "/app/serve.sh"]
"#;

const SERVE_SH: &str = r#"#!/bin/sh
trap 'exit 0' TERM INT
mkdir -p /www
cp /app/message.txt /www/index.html
[ -e /app/unhealthy ] || echo ok > /www/health
echo "greeting=$GREETING token-length=${#API_TOKEN}" > /www/env
echo "serving $(cat /app/message.txt) on $PORT"
httpd -f -p "$PORT" -h /www &
wait
"#;

/// A plain busybox image for stacks to run (`localhost/hoist-test/busybox:1`), built once
/// per test process.
pub fn busybox_image() -> String {
    static BUILT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            std::fs::copy("/bin/busybox", dir.path().join("busybox")).expect("copy busybox");
            std::fs::write(
                dir.path().join("Containerfile"),
                "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
            )
            .expect("containerfile");
            let image = "localhost/hoist-test/busybox:1".to_owned();
            let built = Command::new("podman")
                .args(["build", "--quiet", "--tag", &image])
                .arg(dir.path())
                .output()
                .expect("podman build");
            assert!(built.status.success(), "{built:?}");
            image
        })
        .clone()
}

/// A project whose service is the busybox container.
pub fn container_test() -> Test {
    let t = Test::new();
    // An app name of its own: tests running at once share the engine's image store, and
    // pruning one environment's untagged builds must not touch another test's.
    let spec = container_spec(&t);
    let t = t.spec(&spec);
    t.remove("app.py");
    std::fs::copy("/bin/busybox", t.project.join("busybox")).expect("copy busybox");
    t.write("Containerfile", CONTAINERFILE);
    t.write("serve.sh", SERVE_SH);
    t
}

pub fn deploy(t: &Test) -> crate::harness::Outcome {
    deploy_with(t, &[])
}

/// `deploy dev` with the secret and `extra` variables.
pub fn deploy_with(t: &Test, extra: &[(&str, &str)]) -> crate::harness::Outcome {
    let mut env = vec![("API_TOKEN", API_TOKEN)];
    env.extend_from_slice(extra);
    t.hoist_with(&["deploy", "dev"], &env)
}

/// The names of the containers podman runs for the deploy root.
pub fn containers_of(root: &Path) -> Vec<String> {
    let id = std::fs::read_to_string(root.join(".hoist/root-id")).expect("root id");
    let output = Command::new("podman")
        .args([
            "ps",
            "--all",
            &format!("--filter=label=hoist.root={}", id.trim()),
            "--format={{.Names}}",
        ])
        .output()
        .expect("podman ps");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_built_image_is_swapped_under_load_and_its_secret_stays_out_of_sight() {
    let t = container_test();
    deploy(&t)
        .success()
        .stderr_contains("build: image from `Containerfile`");
    let first = t.live().unwrap();
    assert_eq!(t.body().trim(), "v1");
    assert_converged(&t, &first);
    let (_, env) = t.get("/env").unwrap();
    assert_eq!(
        env.trim(),
        format!("greeting=hi token-length={}", API_TOKEN.len()),
        "vars and secrets reach the container"
    );
    assert_eq!(containers_of(&t.root).len(), 1);

    // Nothing shows the secret on a command line, and the file that carries it is private.
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&ps.stdout).contains(API_TOKEN));
    let env_files: Vec<_> = std::fs::read_dir(t.root.join("run"))
        .unwrap()
        .filter_map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name()?.to_str()?.to_owned();
            name.starts_with("container-").then_some(path)
        })
        .collect();
    assert!(!env_files.is_empty());
    for file in &env_files {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }

    let load = LoadLoop::start(t.port, "/", 4);
    t.write("message.txt", "v2\n");
    deploy(&t).success().stderr_contains("stopped `");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let result = load.finish();
    assert!(result.requests > 20, "{} requests", result.requests);
    assert_eq!(result.failures, Vec::<String>::new(), "failed requests");
    assert_eq!(t.body().trim(), "v2");
    let second = t.live().unwrap();
    assert_converged(&t, &second);
    assert_eq!(containers_of(&t.root).len(), 1, "the old container is gone");

    // What hoist records (the store, the audit log, releases, logs) never holds the secret;
    // only the 0600 config and env files do.
    let mut leaks = Vec::new();
    for base in [&t.project.join(".hoist"), &t.root] {
        for entry in walk(base) {
            let text = std::fs::read(&entry).unwrap_or_default();
            let holds = text
                .windows(API_TOKEN.len())
                .any(|w| w == API_TOKEN.as_bytes());
            let env_file = entry.starts_with(t.root.join("run"))
                && entry
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("container-"));
            let private = entry.starts_with(t.root.join("config"))
                || entry.starts_with(t.root.join("meta"))
                    && entry.components().any(|c| c.as_os_str() == "config")
                || env_file;
            if holds && !private {
                leaks.push(entry.display().to_string());
            }
        }
    }
    assert_eq!(leaks, Vec::<String>::new(), "files holding the secret");
    let env_files_left: Vec<_> = walk(&t.root.join("run"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/container-"))
        .collect();
    assert_eq!(
        env_files_left.len(),
        1,
        "only the live container's: {env_files_left:?}"
    );
}

#[test]
fn a_failed_probe_keeps_the_old_container_serving() {
    let t = container_test();
    deploy(&t).success();
    let first = t.live().unwrap();

    t.write("unhealthy", "");
    t.write(
        "Containerfile",
        &CONTAINERFILE.replace("message.txt /app/", "message.txt unhealthy /app/"),
    );
    t.write("message.txt", "v2\n");
    let spec = container_spec(&t).replace("deadline = \"20s\"", "deadline = \"2s\"");
    let t = t.spec(&spec);
    let load = LoadLoop::start(t.port, "/", 2);
    deploy(&t)
        .code(1)
        .stderr_contains("failed its health check")
        .stderr_contains("the route did not move")
        .stderr_contains(&format!("`{first}` keeps serving"));
    let result = load.finish();
    assert_eq!(result.failures, Vec::<String>::new());
    assert!(
        result.bodies.iter().all(|b| b == "v1"),
        "{:?}",
        result.bodies
    );
    assert_eq!(
        containers_of(&t.root).len(),
        1,
        "the failed one was removed"
    );
    assert_converged(&t, &first);
}

#[test]
fn a_container_no_record_owns_is_a_stray_that_check_fix_removes() {
    let t = container_test();
    deploy(&t).success();
    let live = t.live().unwrap();
    let id = std::fs::read_to_string(t.root.join(".hoist/root-id")).unwrap();
    let id = id.trim();
    // What a run killed between starting a container and recording it leaves behind.
    let running: Vec<String> = containers_of(&t.root);
    let free_slot = if running.iter().any(|n| n.ends_with("-blue")) {
        "green"
    } else {
        "blue"
    };
    let name = format!("hoist-{id}-{free_slot}");
    let started = Command::new("podman")
        .args([
            "run",
            "--detach",
            &format!("--name={name}"),
            &format!("--label=hoist.root={id}"),
            &format!("--label=hoist.instance={id}:{free_slot}"),
            "--pull=never",
            &format!("localhost/hoist/{}/dev:{live}", app_name(&t)),
        ])
        .output()
        .unwrap();
    assert!(started.status.success(), "{started:?}");
    assert_eq!(containers_of(&t.root).len(), 2);

    let report = t.hoist(&["check", "dev", "--json"]).code(1).json();
    let strays = report["hosts"][0]["strays"].as_array().unwrap().clone();
    assert_eq!(strays.len(), 1, "{report:#}");
    assert!(strays[0]["command"].as_str().unwrap().contains(&name));

    t.hoist(&["check", "dev", "--fix"]).success();
    assert_eq!(containers_of(&t.root).len(), 1);
    assert_converged(&t, &live);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            files.extend(walk(&path));
        } else if kind.is_file() {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_killed_container_is_started_again_by_the_supervisor_and_its_output_is_in_the_logs() {
    let t = container_test();
    deploy(&t).success();
    let logs = t.hoist(&["logs", "dev"]).success();
    assert!(
        logs.stdout.contains("serving v1 on 8080"),
        "{}",
        logs.stdout
    );

    let id = std::fs::read_to_string(t.root.join(".hoist/root-id")).unwrap();
    let running = containers_of(&t.root);
    assert_eq!(running.len(), 1, "{running:?}");
    assert!(running[0].starts_with(&format!("hoist-{}-", id.trim())));
    // The container dies under the engine, not through hoist.
    let killed = Command::new("podman")
        .args(["kill", &running[0]])
        .output()
        .unwrap();
    assert!(killed.status.success(), "{killed:?}");
    let started = std::time::Instant::now();
    loop {
        if t.get("/")
            .is_ok_and(|(status, body)| status == 200 && body.trim() == "v1")
        {
            let status = t.hoist(&["status", "dev", "--json"]).success().json();
            let restarts = &status["hosts"][0]["instance"]["supervision"]["restarts"];
            if restarts.as_u64() >= Some(1) {
                break;
            }
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "the container was not started again"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(containers_of(&t.root).len(), 1);
    let check = t.hoist(&["check", "dev", "--json"]).json();
    assert_eq!(check["ok"], true, "{check:#}");
}

#[test]
fn after_a_reboot_the_boot_entry_brings_the_proxy_and_the_container_back() {
    use crate::root_processes::{alive, kill9, marked_processes, recorded_pid, run_boot_entry};
    let t = container_test();
    deploy(&t).success();
    let live = t.live().unwrap();
    // A power cut: every process of the root, and the container under the engine, gone.
    let mut pids = marked_processes(&t.root);
    for record in ["supervisor.json", "proxy.json"] {
        pids.extend(recorded_pid(&t.root, record).filter(|pid| alive(*pid)));
    }
    for pid in &pids {
        kill9(*pid);
    }
    for name in containers_of(&t.root) {
        Command::new("podman")
            .args(["rm", "--force", "--time=0", &name])
            .output()
            .unwrap();
    }
    assert!(t.get("/").is_err(), "nothing answers after the power cut");

    run_boot_entry(&t.root);
    let started = std::time::Instant::now();
    while !t.get("/").is_ok_and(|(status, _)| status == 200) {
        if started.elapsed().as_secs() >= 20 {
            let logs = walk(&t.root.join("logs"))
                .into_iter()
                .map(|p| {
                    format!(
                        "{}:\n{}",
                        p.display(),
                        std::fs::read_to_string(&p).unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            panic!("the container did not come back:\n{logs}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(t.body().trim(), "v1");
    assert_eq!(containers_of(&t.root).len(), 1);
    assert_converged(&t, &live);
}

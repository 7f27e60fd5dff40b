//! Compose stacks with real podman-compose: up, redeploy (recreate), services in `status`,
//! destroy keeping the stack's volumes unless `--volumes`.

use std::process::Command;

use crate::containers::busybox_image;
use crate::harness::Test;

const COMPOSE_SPEC: &str = r#"
[app]
name = "{app}"

[service]
compose = "compose.yml"
port = {port}
stop_grace = "3s"

[service.health]
path = "/health"
interval = "100ms"
timeout = "1s"
deadline = "30s"

[env.dev]
hosts = ["local:{root}"]
keep_releases = 3
vars = { GREETING = "hi" }
secrets = ["API_TOKEN"]
"#;

const API_TOKEN: &str = "stack-secret-9a8b7c6d";

const COMPOSE_FILE: &str = r#"services:
  web:
    image: {image}
    command: ["/bin/sh", "/app/serve.sh"]
    environment:
      - PORT=8080
    env_file: ${HOIST_ENV_FILE}
    ports:
      - "127.0.0.1:${PORT}:8080"
    volumes:
      - ./:/app:ro
      - data:/data
  worker:
    image: {image}
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
volumes:
  data:
"#;

const SERVE_SH: &str = r#"#!/bin/sh
trap 'exit 0' TERM INT
mkdir -p /www
cp /app/message.txt /www/index.html
echo ok > /www/health
echo "greeting=$GREETING token-length=${#API_TOKEN}" > /www/env
httpd -f -p "$PORT" -h /www &
wait
"#;

fn compose_test(app: &str) -> Test {
    let image = busybox_image();
    let t = Test::new().spec(&COMPOSE_SPEC.replace("{app}", app));
    t.remove("app.py");
    t.write("compose.yml", &COMPOSE_FILE.replace("{image}", &image));
    t.write("serve.sh", SERVE_SH);
    t
}

fn engine_lines(args: &[&str]) -> Vec<String> {
    let output = Command::new("podman").args(args).output().expect("podman");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn project_containers(project: &str) -> Vec<String> {
    engine_lines(&[
        "ps",
        "--all",
        &format!("--filter=label=com.docker.compose.project={project}"),
        "--format={{.Names}}",
    ])
}

/// The engine monitors (conmon) still running for the project's containers.
fn monitors_of(project: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let pid = entry.ok()?.file_name().to_str()?.parse::<u32>().ok()?;
            let args = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).ok()?;
            let args: Vec<&str> = args.split('\0').collect();
            let ours = args.first()?.ends_with("conmon")
                && args
                    .windows(2)
                    .any(|w| w[0] == "-n" && w[1].starts_with(&format!("{project}_")));
            ours.then_some(pid)
        })
        .collect()
}

fn project_volumes(project: &str) -> Vec<String> {
    engine_lines(&["volume", "ls", "--format={{.Name}}"])
        .into_iter()
        .filter(|name| name.starts_with(&format!("{project}_")))
        .collect()
}

#[test]
fn a_stack_comes_up_is_replaced_and_is_taken_down_keeping_its_volumes() {
    let t = compose_test("stack-a");
    let project = "hoist-stack-a-dev";
    t.hoist_with(&["deploy", "dev"], &[("API_TOKEN", API_TOKEN)])
        .success();
    assert_eq!(t.body().trim(), "v1");
    let (_, env) = t.get("/env").unwrap();
    assert_eq!(
        env.trim(),
        format!("greeting=hi token-length={}", API_TOKEN.len()),
        "vars and secrets reach the stack through HOIST_ENV_FILE"
    );
    // No process shows the secret, and none but the stack's own holds it in its environment:
    // not the compose client, not the engine's helper daemons.
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&ps.stdout).contains(API_TOKEN));
    let holders: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let pid = entry.ok()?.file_name().to_str()?.parse::<u32>().ok()?;
            let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
            let holds = environ
                .windows(API_TOKEN.len())
                .any(|w| w == API_TOKEN.as_bytes());
            let command = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (holds && !["httpd", "sh", "sleep"].contains(&command.trim())).then(|| {
                let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                format!(
                    "{} ({})",
                    command.trim(),
                    String::from_utf8_lossy(&args).replace('\0', " ")
                )
            })
        })
        .collect();
    assert_eq!(
        holders,
        Vec::<String>::new(),
        "processes holding the secret"
    );
    let mut first = project_containers(project);
    first.sort();
    assert_eq!(first.len(), 2, "{first:?}");

    // The worker may start a moment after the web service answered.
    let mut status = t.hoist(&["status", "dev"]).success();
    for _ in 0..50 {
        if status.stdout.contains("worker running") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        status = t.hoist(&["status", "dev"]).success();
    }
    assert!(status.stdout.contains("services:"), "{}", status.stdout);
    assert!(status.stdout.contains("web running"), "{}", status.stdout);
    assert!(
        status.stdout.contains("worker running"),
        "{}",
        status.stdout
    );
    let json = t.hoist(&["status", "dev", "--json"]).success().json();
    let services = json["hosts"][0]["instance"]["services"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(services, 2, "{json:#}");

    t.write("message.txt", "v2\n");
    t.hoist_with(&["deploy", "dev"], &[("API_TOKEN", API_TOKEN)])
        .success();
    assert_eq!(t.body().trim(), "v2");
    assert_eq!(
        project_containers(project).len(),
        2,
        "the old stack is gone"
    );
    let check = t.hoist(&["check", "dev", "--json"]).json();
    assert_eq!(check["ok"], true, "{check:#}");

    t.hoist(&["destroy", "dev", "--yes"]).success();
    assert_eq!(project_containers(project), Vec::<String>::new());
    assert_eq!(project_volumes(project).len(), 1, "volumes are kept");
    assert_eq!(
        monitors_of(project),
        Vec::<u32>::new(),
        "no conmon of the stack is left"
    );
    // Tidy up what the test itself kept.
    engine_lines(&["volume", "rm", "--force", &format!("{project}_data")]);
}

#[test]
fn destroy_with_volumes_removes_the_stacks_volumes_too() {
    let t = compose_test("stack-b");
    let project = "hoist-stack-b-dev";
    // Not the other test's secret: that one scans every process for its own.
    t.hoist_with(&["deploy", "dev"], &[("API_TOKEN", "another-secret-value")])
        .success();
    assert_eq!(project_volumes(project).len(), 1);
    t.hoist(&["destroy", "dev", "--yes", "--volumes"]).success();
    assert_eq!(project_containers(project), Vec::<String>::new());
    assert_eq!(project_volumes(project), Vec::<String>::new());
}

#[test]
fn a_compose_spec_asking_for_blue_green_is_refused_with_a_hint() {
    let t = compose_test("stack-c");
    let t = t.spec(&COMPOSE_SPEC.replace("{app}", "stack-c").replace(
        "stop_grace = \"3s\"",
        "stop_grace = \"3s\"\nstrategy = \"blue-green\"",
    ));
    t.hoist(&["spec", "check"])
        .code(1)
        .stderr_contains("a compose stack cannot be deployed blue-green")
        .stderr_contains("recreate");
}

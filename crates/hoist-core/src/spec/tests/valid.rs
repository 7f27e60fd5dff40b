use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::super::{
    App, Build, ConfigTemplates, EnvSpec, Health, HealthCheck, Hooks, Proxy, Service, Spec,
    StatusRange, Strategy, Workload, explain_defaults,
};
use super::{MINIMAL, env_name, env_with_defaults, host, parsed};

const FULL: &str = r#"
[app]
name = "hello"

[build]
steps = ["make dist"]
pass_env = ["NPM_TOKEN"]
upload = ["app.py", "static"]
exclude = ["*.pyc", "tmp/"]

[hooks]
post_upload = "python3 -m compileall -q ."
stop = []
start = ["echo started", "touch started"]
refresh = []

[service]
command = "python3 app.py --port $PORT"
port = 8080
strategy = "blue-green"
stop_grace = "15s"

[service.health]
path = "/health"
expect_status = 204
interval = "250ms"
timeout = "1s"
deadline = "1m"
successes = 2

[config]
templates = ["deploy/app.ini.j2"]

[env.dev]
hosts = ["local:/tmp/hoist-dev"]
keep_releases = 3
vars = { GREETING = "hello" }
secrets = ["API_TOKEN"]
shared_dirs = ["uploads"]

[env.prod]
hosts = ["local:/srv/hello-a", "local:/srv/hello-b"]
"#;

fn paths(list: &[&str]) -> Vec<PathBuf> {
    list.iter().map(PathBuf::from).collect()
}

#[test]
fn full_spec_parses_to_the_expected_struct() {
    let spec = parsed(FULL);
    let dev = EnvSpec {
        keep_releases: 3,
        vars: BTreeMap::from([("GREETING".to_owned(), "hello".to_owned())]),
        secrets: vec!["API_TOKEN".to_owned()],
        shared_dirs: paths(&["uploads"]),
        ..env_with_defaults(vec![host("local:/tmp/hoist-dev")])
    };
    let prod = env_with_defaults(vec![host("local:/srv/hello-a"), host("local:/srv/hello-b")]);
    let expected = Spec {
        app: App {
            name: "hello".to_owned(),
        },
        build: Build {
            steps: vec!["make dist".to_owned()],
            upload: paths(&["app.py", "static"]),
            upload_version: None,
            exclude: vec!["*.pyc".to_owned(), "tmp/".to_owned()],
            pass_env: vec!["NPM_TOKEN".to_owned()],
        },
        hooks: Hooks {
            post_upload: vec!["python3 -m compileall -q .".to_owned()],
            stop: Vec::new(),
            start: vec!["echo started".to_owned(), "touch started".to_owned()],
            refresh: Vec::new(),
        },
        service: Some(Service {
            workload: Workload::Process {
                command: "python3 app.py --port $PORT".to_owned(),
            },
            port: 8080,
            strategy: Strategy::BlueGreen,
            stop_grace: Duration::from_secs(15),
            health: Some(Health {
                check: HealthCheck::Http {
                    path: "/health".to_owned(),
                    expect: StatusRange::new(204, 204).unwrap(),
                    body_contains: None,
                    host: None,
                },
                interval: Duration::from_millis(250),
                timeout: Duration::from_secs(1),
                deadline: Duration::from_secs(60),
                successes: 2,
                initial_delay: Duration::ZERO,
            }),
            proxy: Proxy::Builtin,
            drain: Duration::from_secs(10),
            restart: crate::supervision::RestartPolicy::default(),
            liveness: crate::supervision::Liveness::default(),
            log_max: 10 * 1024 * 1024,
            log_keep: 3,
        }),
        config: ConfigTemplates {
            templates: paths(&["deploy/app.ini.j2"]),
        },
        envs: BTreeMap::from([(env_name("dev"), dev), (env_name("prod"), prod)]),
    };
    assert_eq!(spec, expected);
}

#[test]
fn defaults_apply_to_a_minimal_spec() {
    let spec = parsed(MINIMAL);
    assert_eq!(spec.app.name, "hello");
    assert_eq!(
        spec.build,
        Build {
            steps: Vec::new(),
            upload: paths(&["."]),
            upload_version: None,
            exclude: Vec::new(),
            pass_env: Vec::new(),
        }
    );
    assert_eq!(spec.hooks, Hooks::default());
    assert_eq!(spec.service, None);
    assert_eq!(spec.config, ConfigTemplates::default());
    let dev = &spec.envs[&env_name("dev")];
    assert_eq!(dev.keep_releases, 5);
    assert!(dev.vars.is_empty() && dev.secrets.is_empty() && dev.shared_dirs.is_empty());
}

#[test]
fn service_and_health_defaults_apply() {
    let text = format!(
        "{MINIMAL}\n[service]\ncommand = \"run\"\nport = 80\n\n[service.health]\npath = \"/\"\n"
    );
    let service = parsed(&text).service;
    assert_eq!(
        service.as_ref().map(|s| s.strategy),
        Some(Strategy::Recreate)
    );
    assert_eq!(
        service.as_ref().map(|s| s.stop_grace),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        service.and_then(|s| s.health),
        Some(Health {
            check: HealthCheck::Http {
                path: "/".to_owned(),
                expect: StatusRange::new(200, 200).unwrap(),
                body_contains: None,
                host: None,
            },
            interval: Duration::from_millis(500),
            timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(30),
            successes: 1,
            initial_delay: Duration::ZERO,
        })
    );
}

#[test]
fn upload_version_replaces_the_default_upload() {
    let text = MINIMAL.replace(
        "[env.dev]",
        "[build]\nupload_version = \"dist\"\n\n[env.dev]",
    );
    let build = parsed(&text).build;
    assert_eq!(build.upload_version, Some(PathBuf::from("dist")));
    assert!(build.upload.is_empty(), "{:?}", build.upload);
}

#[test]
fn inline_and_dotted_tables_read_like_headers() {
    let text = r#"
app = { name = "site.example.org" }
build.steps = "make"
service = { command = "serve", port = 8000, health = { path = "/up" } }
env.dev = { hosts = ["local:/srv/site"], vars = { A = "1" } }

[env.prod]
hosts = ["local:/srv/prod"]
[env.prod.vars]
B = "2"
"#;
    let spec = parsed(text);
    assert_eq!(spec.app.name, "site.example.org");
    assert_eq!(spec.build.steps, vec!["make".to_owned()]);
    let health = spec.service.as_ref().and_then(|s| s.health.as_ref());
    assert!(
        matches!(health.map(|h| &h.check), Some(HealthCheck::Http { path, .. }) if path == "/up")
    );
    let prod = &spec.envs[&env_name("prod")];
    assert_eq!(prod.vars.get("B").map(String::as_str), Some("2"));
    assert_eq!(spec.envs.len(), 2);
}

#[test]
fn explains_every_default_in_spec_syntax() {
    let defaults: BTreeMap<&str, String> = explain_defaults().into_iter().collect();
    assert_eq!(defaults["build.upload"], "[\".\"]");
    assert_eq!(defaults["service.runtime"], "\"process\"");
    assert!(
        defaults["service.strategy"].starts_with("\"recreate\" (container: \"blue-green\""),
        "{}",
        defaults["service.strategy"]
    );
    assert_eq!(defaults["service.stop_grace"], "\"10s\"");
    assert_eq!(defaults["service.health.interval"], "\"500ms\"");
    assert_eq!(defaults["env.NAME.keep_releases"], "5");
    assert_eq!(defaults["env.NAME.connect_timeout"], "\"10s\"");
    assert_eq!(defaults["env.NAME.parallel"], "8");
    assert_eq!(defaults["env.NAME.canary"], "0");
    // Each default, written into a spec, gives back the default itself.
    let text = format!(
        "{MINIMAL}keep_releases = {}\nconnect_timeout = {}\nparallel = {}\ncanary = {}\n[service]\ncommand = \"x\"\nport = 1\nstop_grace = {}\n",
        defaults["env.NAME.keep_releases"],
        defaults["env.NAME.connect_timeout"],
        defaults["env.NAME.parallel"],
        defaults["env.NAME.canary"],
        defaults["service.stop_grace"]
    );
    let spec = parsed(&text);
    assert_eq!(
        spec.service.as_ref().map(|s| s.stop_grace),
        Some(Duration::from_secs(10))
    );
    assert_eq!(
        spec.envs[&env_name("dev")],
        env_with_defaults(vec![host("local:/tmp/hoist-dev")])
    );
}

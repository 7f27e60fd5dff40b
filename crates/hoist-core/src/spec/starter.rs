//! The starter spec `hoist init` writes: every table, each key explained, serving the
//! current directory with Python's built-in web server so the first deploy just works.

/// The starter for `app_name`, made into a valid app name first (`My App` → `my-app`) so
/// that whatever directory `hoist init` runs in, the spec it writes parses.
pub(super) fn starter(app_name: &str) -> String {
    STARTER.replace("{app}", &app_name_from(app_name))
}

/// Lowercases, turns anything else not allowed into `-`, and drops leading punctuation.
fn app_name_from(wanted: &str) -> String {
    let lowered: String = wanted
        .trim()
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name: String = lowered
        .trim_start_matches(['-', '_', '.'])
        .chars()
        .take(63)
        .collect();
    if name.is_empty() {
        "app".to_owned()
    } else {
        name
    }
}

const STARTER: &str = r#"# Hoist.toml: how hoist builds, uploads and runs this app.
# Paths are relative to this file's directory. Durations read like `500ms`, `10s`, `2m30s`.

[app]
# Lowercase letters, digits, `-`, `_` and `.`.
name = "{app}"

[build]
# Shell commands run here, in order, before uploading (e.g. "npm ci", "make dist").
steps = []
# What to upload: these paths...
upload = ["."]
# ...or instead one directory whose contents become the release:
# upload_version = "dist"
# Gitignore-style globs left out of the upload (`.git` and `.hoist` always are).
exclude = []
# The steps see only PATH, HOME, USER, LOGNAME, LANG, LC_*, TERM, TZ, TMPDIR and SHELL of
# your environment, plus the variables named here (e.g. ["NPM_TOKEN"]).
pass_env = []

[hooks]
# Each hook is a command or a list of commands, run on the host.
# In the new release, after upload, before it is marked ready:
post_upload = []
# In the live release, before switching away from it:
stop = []
# In the new live release, after the switch:
start = []
# If set, run after the switch instead of stop/start (e.g. "apachectl graceful"):
refresh = []

# What runs: a process (`command`, below), or instead a container (`runtime = "container"`
# with `image` or `[build] containerfile`), a compose stack (`compose = "compose.yml"`) or a
# static site served by hoist's proxy (`static = "public"`). Leave this table out when the
# hooks alone handle a release.
[service]
# Shell command starting the service; hoist sets $PORT to the port it must listen on.
command = "python3 -m http.server $PORT"
# The public port users reach.
port = 8080
# "recreate" stops the old release, then starts the new one.
# "blue-green" starts the new one on another port and switches once it is healthy.
strategy = "recreate"
# How long after SIGTERM before SIGKILL.
stop_grace = "10s"
# Each instance logs to `logs/RELEASE.log` on its host (`hoist logs dev` reads them);
# the file is rotated at this size, keeping `log_keep` older ones (`.1`, `.2`, …).
log_max = "10MB"
log_keep = 3

# The readiness check a new release must pass. `kind` is "http" (a GET on
# 127.0.0.1:$PORT), "tcp" (a connect) or "command" (run in the release, exit 0 = healthy).
[service.health]
kind = "http"
path = "/"
# A status, or a range like "200-399".
expect_status = 200
# body_contains = "ok"
# host = "app.example"
# For kind = "command" instead of path:
# command = "./check.sh"
# Waited before the first try.
initial_delay = "0s"
# Time between tries, how long one try may take, and when to give up.
interval = "500ms"
timeout = "2s"
deadline = "30s"
# Consecutive successful tries needed.
successes = 1

[config]
# minijinja templates rendered into each host's `config/` at configure time
# (written without the `.j2`), e.g. ["deploy/app.ini.j2"].
templates = []

# One table per environment: `hoist deploy dev`.
[env.dev]
# Where it runs: `local:/absolute/path` is a deploy root on this machine.
hosts = ["local:/tmp/hoist/{app}/dev"]
# Releases kept on each host for `hoist rollback`.
keep_releases = 5
# Plain variables, written to the env file and given to templates.
vars = { APP_ENV = "dev" }
# Names of environment variables read when configuring; their values stay secret.
secrets = []
# Directories under `shared/` linked into every release (uploads, caches).
shared_dirs = []

# Servers reached over SSH: uncomment and adapt, then `hoist deploy prod`.
# [env.prod]
# # `[user@]host[:port]`; a table sets a host's own jump host.
# hosts = ["deploy@web1", "deploy@web2:2222", { host = "deploy@web3", jump = "ops@bastion2" }]
# # The directory hoist deploys into on each SSH host.
# root = "/srv/{app}"
# # Every SSH host is reached through this one (ssh's ProxyJump).
# jump = "ops@bastion"
# # Optional: ssh_config = "deploy/ssh_config", identity = "~/.ssh/deploy_ed25519".
# connect_timeout = "10s"
# # A host's connection stays up this long after a command, for the next one ("0s": off).
# ssh_persist = "60s"
# # At most this many hosts at once; `canary` hosts go first, through health, before the rest.
# parallel = 8
# canary = 1
# vars = { APP_ENV = "prod" }
# # Optional: a local command whose JSON output lists more hosts, with the variables it may read.
# [env.prod.provision]
# command = "tofu output -json hosts"
# pass_env = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
"#;

#[cfg(test)]
mod tests {
    use super::super::Strategy;
    use super::super::tests::{env_name, host, parsed};
    use super::*;

    #[test]
    fn starter_parses_with_the_documented_setup() {
        let spec = parsed(&starter("hello"));
        assert_eq!(spec.app.name, "hello");
        let Some(service) = &spec.service else {
            panic!("no service");
        };
        assert_eq!(
            service.workload.process_command(),
            Some("python3 -m http.server $PORT")
        );
        assert_eq!(service.port, 8080);
        assert_eq!(service.strategy, Strategy::Recreate);
        let check = service.health.as_ref().map(|health| &health.check);
        assert!(matches!(check, Some(super::super::HealthCheck::Http { path, .. }) if path == "/"));
        let dev = &spec.envs[&env_name("dev")];
        assert_eq!(dev.hosts, vec![host("local:/tmp/hoist/hello/dev")]);
    }

    #[test]
    fn starter_prod_example_parses_once_uncommented() {
        let text = starter("hello");
        let example = &text[text.find("# [env.prod]").unwrap_or_default()..];
        let uncommented: String = example
            .lines()
            .map(|line| format!("{}\n", line.strip_prefix("# ").unwrap_or(line)))
            .collect();
        assert!(uncommented.starts_with("[env.prod]\n"), "{uncommented}");
        let spec = parsed(&format!("{text}\n{uncommented}"));
        let prod = &spec.envs[&env_name("prod")];
        assert_eq!(prod.hosts.len(), 3);
        assert_eq!(
            prod.root.as_deref(),
            Some(std::path::Path::new("/srv/hello"))
        );
        assert_eq!(
            prod.ssh.jump.as_ref().map(ToString::to_string).as_deref(),
            Some("ops@bastion")
        );
        assert_eq!(
            prod.hosts[2]
                .jump
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("ops@bastion2")
        );
        assert_eq!((prod.rollout.parallel, prod.rollout.canary), (8, 1));
    }

    #[test]
    fn starter_parses_whatever_the_directory_is_called() {
        for wanted in [
            "My App",
            "../x",
            "\"quoted\"",
            "",
            "-rf",
            "site.example.org",
            &"x".repeat(80),
        ] {
            let spec = parsed(&starter(wanted));
            assert!(!spec.app.name.is_empty(), "{wanted:?}");
        }
        assert_eq!(app_name_from("My App"), "my-app");
        assert_eq!(app_name_from("site.example.org"), "site.example.org");
        assert_eq!(app_name_from("-rf"), "rf");
        assert_eq!(app_name_from("???"), "app");
    }
}

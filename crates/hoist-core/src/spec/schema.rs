//! The JSON Schema (draft 2020-12) of `Hoist.toml`, for editors (taplo, VS Code "Even Better
//! TOML") and for `hoist spec schema`. Written by hand so it says what the parser checks;
//! defaults come from `defaults` so the two cannot drift.

use serde_json::{Value, json};

use super::{defaults, workload_schema};
use crate::byte_size::format_byte_size;
use crate::duration::format_duration;

/// `500ms`, `10s`, `2m30s`: what `parse_duration` reads.
const DURATION_PATTERN: &str = "^([0-9]+(ms|s|m|h|d))+$";
/// `10MB`, `512 KiB`, `4096`: what `parse_byte_size` reads.
pub(super) const BYTE_SIZE_PATTERN: &str = "^[0-9]+ *([KkMmGgTt]([Ii]?[Bb])?|[Bb])?$";
const ENV_NAME_PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,62}$";
const APP_NAME_PATTERN: &str = "^[a-z0-9][a-z0-9_.-]{0,62}$";
const VARIABLE_NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
/// Relative, non-empty, no `..` component (NUL cannot appear in TOML strings unescaped and
/// is refused by the parser).
const RELATIVE_PATH_PATTERN: &str = "^(?!/)(?!~)(?!(.*/)?\\.\\.(/|$)).+$";
/// `[user@]host[:port]` as `SshDestination` reads it, unanchored: names start with a letter,
/// digit or `_`; IPv6 in brackets; ports 1-65535.
macro_rules! ssh_destination {
    () => {
        r"([A-Za-z0-9_][A-Za-z0-9._-]*@)?([A-Za-z0-9_][A-Za-z0-9._-]*|\[[0-9A-Fa-f.:]*:[0-9A-Fa-f.:]*\])(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?"
    };
}
const SSH_DESTINATION_PATTERN: &str = concat!("^", ssh_destination!(), "$");
/// A host: `local:/absolute/root`, or an SSH destination.
const HOST_PATTERN: &str = concat!("^(local:/.+|", ssh_destination!(), ")$");
/// Absolute, no `.` or `..` segment, no control character, not `/` itself.
const DEPLOY_ROOT_PATTERN: &str = r"^(?!.*/\.\.?(/|$))(?!.*[\u0000-\u001f\u007f-\u009f])/.*[^/].*$";
/// A path on this machine: anything but `~user/…` (only `~/` means the home directory).
const LOCAL_PATH_PATTERN: &str = "^(?!~(?!/)).+$";

pub(super) fn json_schema() -> Value {
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Hoist.toml",
        "description": "A hoist spec: what to build and upload, how to run the service, and the environments to deploy to.",
        "type": "object",
        "additionalProperties": false,
        "required": ["app", "env"],
        "allOf": workload_schema::root_rules(),
        "properties": {
            "app": app(),
            "build": build(),
            "hooks": hooks(),
            "service": service(),
            "config": config(),
            "env": environments(),
        },
        "$defs": {
            "duration": {
                "type": "string",
                "pattern": DURATION_PATTERN,
                "description": "A duration: numbers with units `ms`, `s`, `m`, `h`, `d`, e.g. `500ms`, `2m30s`.",
            },
            "relativePath": {
                "type": "string",
                "minLength": 1,
                "pattern": RELATIVE_PATH_PATTERN,
                "description": "A relative path without `..`.",
            },
            "host": {
                "type": "string",
                "pattern": HOST_PATTERN,
                "description": "`[user@]host[:port]` reached over SSH (IPv6 as `[addr]:port`), or `local:/absolute/deploy/root` on this machine.",
            },
            "sshDestination": {
                "type": "string",
                "pattern": SSH_DESTINATION_PATTERN,
                "description": "An SSH host: `[user@]host[:port]`, IPv6 as `[addr]:port`.",
            },
            "localPath": {
                "type": "string",
                "minLength": 1,
                "pattern": LOCAL_PATH_PATTERN,
                "description": "A path on this machine: relative to the spec's directory, absolute, or `~/…`.",
            },
            "commands": {
                "description": "One shell command or a list of them, run in order.",
                "oneOf": [
                    { "type": "string", "minLength": 1 },
                    { "type": "array", "items": { "type": "string", "minLength": 1 } },
                ],
                "default": [],
            },
        },
    });
    // The workload keys live with their rules; here they join their tables.
    let tables = [
        ("service", workload_schema::service_properties()),
        ("build", workload_schema::build_properties()),
    ];
    for (table, keys) in tables {
        if let Some(properties) = schema["properties"][table]["properties"].as_object_mut() {
            properties.extend(keys);
        }
    }
    schema
}

fn app() -> Value {
    json!({
        "type": "object",
        "description": "The application being deployed.",
        "additionalProperties": false,
        "required": ["name"],
        "properties": {
            "name": {
                "type": "string",
                "pattern": APP_NAME_PATTERN,
                "description": "The app's name: 1-63 lowercase letters, digits, `-`, `_` or `.`, starting with a letter or digit.",
            },
        },
    })
}

fn build() -> Value {
    json!({
        "type": "object",
        "description": "How a release is built locally and what is uploaded.",
        "additionalProperties": false,
        "not": { "required": ["upload", "upload_version"] },
        "properties": {
            "steps": {
                "$ref": "#/$defs/commands",
                "description": "Local shell commands run in order in the spec's directory before uploading.",
            },
            "upload": {
                "type": "array",
                "minItems": 1,
                "items": { "$ref": "#/$defs/relativePath" },
                "default": [defaults::UPLOAD],
                "description": "Paths to upload, relative to the spec's directory. Not with `upload_version`.",
            },
            "upload_version": {
                "$ref": "#/$defs/relativePath",
                "description": "One directory whose contents become the release. Not with `upload`.",
            },
            "exclude": {
                "type": "array",
                "items": { "type": "string" },
                "default": [],
                "description": "Gitignore-style globs left out of the upload; `.git` and `.hoist` always are.",
            },
            "pass_env": pass_env("the build steps"),
        },
    })
}

/// `pass_env`: controller variables a controller-side command may read besides the basics.
fn pass_env(what: &str) -> Value {
    json!({
        "type": "array",
        "uniqueItems": true,
        "items": { "type": "string", "pattern": VARIABLE_NAME_PATTERN, "not": { "pattern": "^HOIST_" } },
        "default": [],
        "description": format!(
            "Names of the controller's environment variables {what} may read, besides PATH, HOME, USER, LOGNAME, LANG, LC_*, TERM, TZ, TMPDIR and SHELL; no other variable reaches them."
        ),
    })
}

fn hooks() -> Value {
    let hook =
        |description: &str| json!({ "$ref": "#/$defs/commands", "description": description });
    json!({
        "type": "object",
        "description": "Shell commands run on each host at points of a deploy.",
        "additionalProperties": false,
        "properties": {
            "post_upload": hook("Run in the new release directory after upload, before it is marked ready."),
            "stop": hook("Run in the live release before it is switched away from."),
            "start": hook("Run in the new live release after the switch."),
            "refresh": hook("When given, run after the switch instead of stop/start (e.g. `apachectl graceful`)."),
        },
    })
}

fn service() -> Value {
    json!({
        "type": "object",
        "description": "What runs: a process (`command`), a container (`runtime = \"container\"`), a compose stack (`compose`) or a static site (`static`), one per service. Leave out when the hooks alone handle a release.",
        "additionalProperties": false,
        "required": ["port"],
        "allOf": workload_schema::service_rules(),
        "properties": {
            "command": {
                "oneOf": [
                    { "type": "string", "minLength": 1 },
                    { "type": "array", "minItems": 1, "items": { "type": "string" } },
                ],
                "description": "A process: the shell command starting it, which must listen on `$PORT`. A container (`runtime = \"container\"`): the words replacing the image's command, run without a shell, e.g. `[\"./server\", \"--port\", \"8080\"]`.",
            },
            "port": {
                "type": "integer",
                "minimum": 1,
                "maximum": 65535,
                "description": "The public port users reach (for a static site, where the built-in proxy serves it).",
            },
            "strategy": {
                "enum": ["recreate", "blue-green"],
                "default": defaults::STRATEGY.as_str(),
                "description": "`recreate` stops the old release, then starts the new one; `blue-green` starts the new one on another port and switches when it is healthy. Left out: `recreate`, except a container without a writable volume, which gets `blue-green`. Compose stacks and static sites are recreate only.",
            },
            "stop_grace": {
                "$ref": "#/$defs/duration",
                "default": format_duration(defaults::STOP_GRACE),
                "description": "How long after SIGTERM before SIGKILL.",
            },
            "health": health(),
            "proxy": {
                "enum": ["builtin", "nginx"],
                "default": "builtin",
                "description": "Blue-green only: what routes to the live instance. `builtin` runs `hoist proxy` on each host on `port`; `nginx` writes an upstream file for the host's nginx.",
            },
            "drain": {
                "$ref": "#/$defs/duration",
                "default": format_duration(defaults::DRAIN),
                "description": "Blue-green: how long the old instance may finish its requests once the route has moved.",
            },
            "restart": {
                "type": "object",
                "additionalProperties": false,
                "description": "How the supervisor on each host restarts an instance that exits or fails its liveness probe.",
                "properties": {
                    "backoff": { "$ref": "#/$defs/duration", "default": format_duration(defaults::RESTART_BACKOFF), "description": "The wait before the first restart; it doubles with each exit within `window`." },
                    "backoff_max": { "$ref": "#/$defs/duration", "default": format_duration(defaults::RESTART_BACKOFF_MAX), "description": "The longest wait between restarts." },
                    "crash_loop": { "type": "integer", "minimum": 1, "maximum": 1000, "default": defaults::RESTART_CRASH_LOOP, "description": "This many exits within `window` is a crash loop: the instance is marked crash-looping and not restarted until the next deploy or `hoist restart`." },
                    "window": { "$ref": "#/$defs/duration", "default": format_duration(defaults::RESTART_WINDOW), "description": "How far back exits count." },
                },
            },
            "log_max": {
                "oneOf": [
                    { "type": "string", "pattern": BYTE_SIZE_PATTERN },
                    { "type": "integer", "minimum": super::service_logs::MIN_LOG_MAX },
                ],
                "default": format_byte_size(defaults::LOG_MAX),
                "description": "An instance's log (`logs/RELEASE.log` on the host) is rotated when it would grow past this size: `10MB`, `512KB` (units count in 1024s; at least 1KB), or bytes.",
            },
            "log_keep": {
                "type": "integer",
                "minimum": 1,
                "maximum": super::service_logs::MAX_LOG_KEEP,
                "default": defaults::LOG_KEEP,
                "description": "How many rotated log files (`RELEASE.log.1` …) each instance keeps.",
            },
            "nginx": {
                "type": "object",
                "additionalProperties": false,
                "description": "With `proxy = \"nginx\"`: the upstream file hoist writes, its upstream name, and how to call nginx.",
                "properties": {
                    "upstream_file": { "type": "string", "description": "Absolute path of the include file hoist owns (default /etc/nginx/conf.d/hoist-APP.conf)." },
                    "upstream_name": { "type": "string", "pattern": "^[A-Za-z0-9_]+$", "description": "The NAME in `upstream NAME {}` (default hoist_APP)." },
                    "command": { "type": "string", "minLength": 1, "description": "How to call nginx (default `nginx`); `-t` and `-s reload` are added." },
                },
            },
        },
    })
}

fn health() -> Value {
    let only = |kind: &str, keys: &[&str]| {
        json!({
            "if": { "required": ["kind"], "properties": { "kind": { "const": kind } } },
            "then": { "not": { "anyOf": keys.iter().map(|key| json!({ "required": [key] })).collect::<Vec<_>>() } },
        })
    };
    json!({
        "type": "object",
        "description": "The readiness check a new release must pass: an HTTP request or TCP connect on `127.0.0.1:$PORT`, or a command.",
        "additionalProperties": false,
        "allOf": [
            {
                "if": { "not": { "required": ["kind"] } },
                "then": { "required": ["path"] },
            },
            {
                "if": { "required": ["kind"], "properties": { "kind": { "const": "http" } } },
                "then": { "required": ["path"], "not": { "required": ["command"] } },
            },
            only("tcp", &["path", "expect_status", "body_contains", "host", "command"]),
            {
                "if": { "required": ["kind"], "properties": { "kind": { "const": "command" } } },
                "then": { "required": ["command"] },
            },
            only("command", &["path", "expect_status", "body_contains", "host"]),
        ],
        "properties": {
            "kind": {
                "enum": ["http", "tcp", "command"],
                "default": defaults::HEALTH_KIND,
                "description": "`http` requests `path`; `tcp` connects; `command` runs `command` in the release directory with `$PORT` set, healthy on exit 0.",
            },
            "path": {
                "type": "string",
                "pattern": "^/\\S*$",
                "description": "http: the path probed, starting with `/`.",
            },
            "expect_status": {
                "oneOf": [
                    { "type": "integer", "minimum": 100, "maximum": 599 },
                    { "type": "string", "pattern": "^[1-5][0-9][0-9]-[1-5][0-9][0-9]$" },
                ],
                "default": defaults::HEALTH_EXPECT_STATUS,
                "description": "http: the status a healthy service answers with, or a range like `\"200-399\"`.",
            },
            "body_contains": {
                "type": "string",
                "minLength": 1,
                "description": "http: text the answer's body must contain.",
            },
            "host": {
                "type": "string",
                "pattern": "^[A-Za-z0-9._-]+(:[0-9]+)?$",
                "description": "http: the `Host` header sent (default `127.0.0.1:PORT`).",
            },
            "command": {
                "type": "string",
                "minLength": 1,
                "description": "command: run with `sh -c` in the release directory, `$PORT` set; exit 0 means healthy.",
            },
            "initial_delay": {
                "$ref": "#/$defs/duration",
                "default": format_duration(defaults::HEALTH_INITIAL_DELAY),
                "description": "Waited before the first try.",
            },
            "liveness_interval": {
                "$ref": "#/$defs/duration",
                "default": format_duration(defaults::LIVENESS_INTERVAL),
                "description": "While the instance runs, the supervisor probes it this often (`\"0s\"`: never).",
            },
            "liveness_failures": {
                "type": "integer",
                "minimum": 1,
                "maximum": 1000,
                "default": defaults::LIVENESS_FAILURES,
                "description": "This many failed liveness probes in a row restart the instance.",
            },
            "interval": {
                "$ref": "#/$defs/duration",
                "default": format_duration(defaults::HEALTH_INTERVAL),
                "description": "Time between tries.",
            },
            "timeout": {
                "$ref": "#/$defs/duration",
                "default": format_duration(defaults::HEALTH_TIMEOUT),
                "description": "How long one try may take.",
            },
            "deadline": {
                "$ref": "#/$defs/duration",
                "default": format_duration(defaults::HEALTH_DEADLINE),
                "description": "How long before the release is declared unhealthy; at least `timeout`.",
            },
            "successes": {
                "type": "integer",
                "minimum": 1,
                "maximum": u32::MAX,
                "default": defaults::HEALTH_SUCCESSES,
                "description": "Consecutive successful tries needed.",
            },
        },
    })
}

fn config() -> Value {
    json!({
        "type": "object",
        "description": "Configuration rendered on each host at configure time.",
        "additionalProperties": false,
        "properties": {
            "templates": {
                "type": "array",
                "items": { "$ref": "#/$defs/relativePath" },
                "default": [],
                "description": "minijinja templates rendered into the host's `config/` directory (name without `.j2`).",
            },
        },
    })
}

fn environments() -> Value {
    json!({
        "type": "object",
        "description": "The environments to deploy to, by name (`[env.dev]`, `[env.prod]`).",
        "minProperties": 1,
        "propertyNames": { "pattern": ENV_NAME_PATTERN },
        "additionalProperties": environment(),
    })
}

fn environment() -> Value {
    json!({
        "type": "object",
        "description": "One environment: its hosts, how they are reached, and what they are given.",
        "additionalProperties": false,
        "required": ["hosts"],
        "properties": {
            "hosts": {
                "type": "array",
                "minItems": 1,
                "uniqueItems": true,
                "items": {
                    "oneOf": [
                        { "$ref": "#/$defs/host" },
                        {
                            "type": "object",
                            "additionalProperties": false,
                            "required": ["host"],
                            "properties": {
                                "host": { "$ref": "#/$defs/host" },
                                "jump": {
                                    "$ref": "#/$defs/sshDestination",
                                    "description": "Reach this host through this one instead of the environment's `jump` (SSH hosts only).",
                                },
                            },
                        },
                    ],
                    "description": "A host: `deploy@web1`, `deploy@web1:2222`, `local:/srv/app`, or `{ host = \"deploy@web3\", jump = \"bastion2\" }`.",
                },
                "description": "Where the environment runs.",
            },
            "root": {
                "type": "string",
                "pattern": DEPLOY_ROOT_PATTERN,
                "description": "The absolute directory hoist deploys into on each SSH host; required when any host is an SSH host.",
            },
            "jump": {
                "$ref": "#/$defs/sshDestination",
                "description": "The jump host (ProxyJump) every SSH host of the environment is reached through.",
            },
            "ssh_config": {
                "$ref": "#/$defs/localPath",
                "description": "An ssh_config file used instead of `~/.ssh/config`.",
            },
            "identity": {
                "$ref": "#/$defs/localPath",
                "description": "The private key ssh authenticates with.",
            },
            "host_binary": {
                "$ref": "#/$defs/localPath",
                "description": "The hoist binary installed on the hosts (default: the one running).",
            },
            "connect_timeout": {
                "$ref": "#/$defs/duration",
                "default": format_duration(defaults::CONNECT_TIMEOUT),
                "description": "How long to wait for an SSH connection; more than zero, at most 5m.",
            },
            "ssh_persist": {
                "$ref": "#/$defs/duration",
                "default": format_duration(defaults::SSH_PERSIST),
                "description": "How long a host's SSH connection stays up after a command for the next to reuse; \"0s\" closes it with the command; at most 24h.",
            },
            "parallel": {
                "type": "integer",
                "minimum": 1,
                "maximum": defaults::MAX_HOSTS_AT_ONCE,
                "default": defaults::PARALLEL,
                "description": "At most this many hosts at once.",
            },
            "canary": {
                "type": "integer",
                "minimum": 0,
                "maximum": defaults::MAX_HOSTS_AT_ONCE,
                "default": defaults::CANARY,
                "description": "This many hosts go first, fully through run and health, before the rest.",
            },
            "provision": {
                "type": "object",
                "description": "How `hoist provision` finds more hosts.",
                "additionalProperties": false,
                "required": ["command"],
                "properties": {
                    "command": {
                        "type": "string",
                        "pattern": "\\S",
                        "description": "A local command (an OpenTofu apply, a cloud CLI) whose JSON output lists more hosts.",
                    },
                    "pass_env": pass_env("the provision command"),
                },
            },
            "keep_releases": {
                "type": "integer",
                "minimum": 1,
                "maximum": 1000,
                "default": defaults::KEEP_RELEASES,
                "description": "How many releases to keep on each host for rollback.",
            },
            "vars": {
                "type": "object",
                "propertyNames": { "pattern": VARIABLE_NAME_PATTERN, "not": { "const": "PORT" } },
                "additionalProperties": { "type": "string" },
                "default": {},
                "description": "Plain variables, written to the env file and given to templates.",
            },
            "secrets": {
                "type": "array",
                "uniqueItems": true,
                "items": { "type": "string", "pattern": VARIABLE_NAME_PATTERN, "not": { "const": "PORT" } },
                "default": [],
                "description": "Names of environment variables read at configure time; their values are secret.",
            },
            "shared_dirs": {
                "type": "array",
                "items": { "$ref": "#/$defs/relativePath" },
                "default": [],
                "description": "Directories under `shared/` linked into every release.",
            },
        },
    })
}

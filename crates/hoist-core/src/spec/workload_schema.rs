//! The JSON Schema of the workload keys: `runtime` and the container keys, `compose` and
//! `static` in `[service]`, `containerfile` and `context` in `[build]`, and the rules per kind
//! the parser enforces (`read_workload`), as far as a schema can say them.

use serde_json::{Map, Value, json};

use super::defaults;
use super::read_container::{MAX_CPUS, MIN_MEMORY};

/// `[a-z0-9]` first, then `[A-Za-z0-9._:/+-]`, no empty part around `/` or `:`, and an
/// optional `@sha256:` or `@sha512:` digest — what `container_values::image_problem` takes.
const IMAGE_PATTERN: &str =
    "^[a-z0-9](?!.*//)[A-Za-z0-9._:/+-]*(?<![/:])(@(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}))?$";
/// `NAME[:GROUP]`, each `[A-Za-z0-9_][A-Za-z0-9_.-]*`.
const USER_PATTERN: &str = "^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$";
/// `SOURCE:TARGET[:ro|:shared]`: a volume name or `shared/DIR` (relative, no `..`, no `,`),
/// then an absolute target other than `/` without `..`, `,` or control characters.
const VOLUME_PATTERN: &str = r"^([a-z0-9][a-z0-9_.-]{0,62}|shared/(?!/)(?!(.*/)?\.\.(/|:))(?!(\./*)*:)[^:,\u0000-\u001f\u007f-\u009f]+):(?!/(\.?/)*\.?(:|$))(?!(.*/)?\.\.(/|:|$))/[^:,\u0000-\u001f\u007f-\u009f]*(:ro|:shared)?$";
/// A relative path for an engine: no leading `-`, `/` or `~`, no `..` component.
const ENGINE_PATH_PATTERN: &str = r"^(?!-)(?!/)(?!~)(?!(.*/)?\.\.(/|$)).+$";
/// As `ENGINE_PATH_PATTERN`, naming something inside: not `.` alone.
const ENGINE_FILE_PATTERN: &str = r"^(?!-)(?!/)(?!~)(?!(.*/)?\.\.(/|$))(?!(\./*)+$).+$";
/// `[service]` keys only a container reads.
const CONTAINER_KEYS: [&str; 6] = [
    "image",
    "container_port",
    "volumes",
    "user",
    "memory",
    "cpus",
];
/// `[service]` keys a static site refuses: there is no process they could tune.
const PROCESS_ONLY_KEYS: [&str; 7] = [
    "health",
    "restart",
    "stop_grace",
    "drain",
    "log_max",
    "log_keep",
    "nginx",
];

/// `[service]`'s workload keys, by name.
pub(super) fn service_properties() -> Map<String, Value> {
    let properties = json!({
        "runtime": {
            "enum": ["process", "container"],
            "default": defaults::RUNTIME,
            "description": "`process` runs `command`; `container` runs an image (`image`, or `[build] containerfile`). A compose stack or a static site takes `compose` or `static` instead.",
        },
        "image": {
            "type": "string",
            "pattern": IMAGE_PATTERN,
            "description": "Container: the image the hosts pull, e.g. `registry.example.com/app:1.2` or `app@sha256:…`. Not with `[build] containerfile`.",
        },
        "container_port": {
            "type": "integer",
            "minimum": 1,
            "maximum": 65535,
            "description": "Container: the port the app listens on inside the container (`$PORT` is set to it).",
        },
        "engine": {
            "enum": ["podman", "docker"],
            "description": "Container or compose: the engine to run it with (default: whichever the host has, podman first).",
        },
        "volumes": {
            "type": "array",
            "items": { "type": "string", "pattern": VOLUME_PATTERN },
            "default": [],
            "description": "Container: `NAME:/path` (a named volume, one per environment) or `shared/DIR:/path` (under the deploy root's `shared/`), optionally `:ro` or `:shared` (two copies may write it). A writable one rules out blue-green.",
        },
        "user": {
            "type": "string",
            "pattern": USER_PATTERN,
            "description": "Container: the user (and group) its process runs as: `app`, `1000`, `1000:1000`.",
        },
        "memory": {
            "oneOf": [
                { "type": "string", "pattern": super::schema::BYTE_SIZE_PATTERN },
                { "type": "integer", "minimum": MIN_MEMORY },
            ],
            "description": "Container: its memory limit, `512MB` (units count in 1024s; at least 6MB), or bytes.",
        },
        "cpus": {
            "type": "number",
            "minimum": 0.0005,
            "maximum": MAX_CPUS,
            "description": "Container: how many CPUs it may use (`1.5`), rounded to thousandths; a value that rounds to 0 is refused.",
        },
        "compose": {
            "type": "string",
            "pattern": ENGINE_FILE_PATTERN,
            "description": "A compose stack: the compose file, relative to the release. Recreate only.",
        },
        "static": {
            "$ref": "#/$defs/relativePath",
            "description": "A static site: the release's directory the built-in proxy serves (`.` for all of it). No process runs.",
        },
    });
    match properties {
        Value::Object(properties) => properties,
        _ => Map::new(),
    }
}

/// `[build]`'s container keys, by name.
pub(super) fn build_properties() -> Map<String, Value> {
    let properties = json!({
        "containerfile": {
            "type": "string",
            "pattern": ENGINE_FILE_PATTERN,
            "description": "With `runtime = \"container\"` and no `image`: the Containerfile the image is built from on this machine, relative to the spec's directory.",
        },
        "context": {
            "type": "string",
            "pattern": ENGINE_PATH_PATTERN,
            "default": ".",
            "description": "With `containerfile`: the build context, relative to the spec's directory.",
        },
    });
    match properties {
        Value::Object(properties) => properties,
        _ => Map::new(),
    }
}

fn required(keys: &[&str]) -> Value {
    json!({ "anyOf": keys.iter().map(|key| json!({ "required": [key] })).collect::<Vec<_>>() })
}

fn runtime_is(runtime: &str) -> Value {
    json!({ "required": ["runtime"], "properties": { "runtime": { "const": runtime } } })
}

/// The rules between `[service]`'s keys: one kind, each kind's keys, each kind's strategies.
pub(super) fn service_rules() -> Value {
    json!([
        {
            "if": runtime_is("container"),
            "then": {
                "required": ["container_port"],
                "properties": { "command": { "type": "array" } },
                "not": required(&["compose", "static"]),
            },
            "else": {
                "oneOf": [
                    { "required": ["command"] },
                    { "required": ["compose"] },
                    { "required": ["static"] },
                ],
                "properties": { "command": { "type": "string" } },
                "not": required(&CONTAINER_KEYS),
            },
        },
        { "if": runtime_is("process"), "then": { "required": ["command"] } },
        {
            "if": { "required": ["engine"] },
            "then": { "anyOf": [runtime_is("container"), { "required": ["compose"] }] },
        },
        {
            "if": { "required": ["compose"] },
            "then": { "properties": { "strategy": { "const": "recreate" } } },
        },
        {
            "if": { "required": ["static"] },
            "then": {
                "properties": {
                    "strategy": { "const": "recreate" },
                    "proxy": { "const": "builtin" },
                },
                "not": required(&PROCESS_ONLY_KEYS),
            },
        },
        {
            "if": { "required": ["strategy"], "properties": { "strategy": { "const": "blue-green" } } },
            "then": { "properties": { "volumes": { "items": { "pattern": ":(ro|shared)$" } } } },
        },
    ])
}

/// The rules between `[build]` and `[service]`: a container's image comes from exactly one
/// of `image` and `[build] containerfile`, and the build keys need a container.
pub(super) fn root_rules() -> Value {
    let container =
        json!({ "required": ["service"], "properties": { "service": runtime_is("container") } });
    json!([
        {
            "if": { "required": ["build"], "properties": { "build": required(&["containerfile", "context"]) } },
            "then": container,
        },
        {
            "if": container,
            "then": {
                "if": { "properties": { "service": { "required": ["image"] } } },
                "then": { "properties": { "build": { "not": required(&["containerfile", "context"]) } } },
                "else": { "required": ["build"], "properties": { "build": { "required": ["containerfile"] } } },
            },
        },
    ])
}

//! Which workload a `[service]` runs — `command`, `runtime = "container"`, `compose` or
//! `static`, one per service — and the rules per kind: keys that belong to another kind are
//! refused, and so is a strategy the kind cannot honestly offer.

use std::ops::Range;

use super::names::{PathKind, relative_path};
use super::problems::Problems;
use super::read_container::{engine_path, read_container};
use super::section::Section;
use super::{Compose, Engine, Strategy, Workload, suggest};

const RUNTIMES: &[&str] = &["process", "container"];
const ENGINES: &[&str] = &["podman", "docker"];
const STRATEGIES: &[&str] = &["recreate", "blue-green"];
/// `[service]` keys only a container reads.
const CONTAINER_KEYS: &[&str] = &[
    "image",
    "container_port",
    "volumes",
    "user",
    "memory",
    "cpus",
];
/// `[build]` keys only a container reads.
pub(super) const CONTAINER_BUILD_KEYS: &[&str] = &["containerfile", "context"];
const CONTAINER_HINT: &str = "add `runtime = \"container\"` to `[service]`";
const KIND_HINT: &str = "`command` runs a process, `runtime = \"container\"` a container, `compose` a compose stack and `static` a static site; keep one";
/// Keys that only mean something for a running process, refused for a static site.
const PROCESS_ONLY_KEYS: &[(&str, &str)] = &[
    ("health", "there is no process to probe"),
    ("restart", "there is no process to restart"),
    ("stop_grace", "there is no process to stop"),
    ("drain", "there is no process to drain"),
    ("log_max", "there is no process log to rotate"),
    ("log_keep", "there is no process log to rotate"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Process,
    Container,
    Compose,
    Static,
}

/// A key that chose a kind, as messages show it.
struct Choice {
    shown: String,
    span: Option<Range<usize>>,
    kind: Kind,
}

/// `strategy` as written, and where.
#[derive(Debug, Clone)]
pub(super) struct WrittenStrategy {
    pub(super) strategy: Strategy,
    pub(super) span: Option<Range<usize>>,
}

/// `strategy`, if written and valid.
pub(super) fn read_strategy(
    service: &Section<'_>,
    problems: &mut Problems,
) -> Option<WrittenStrategy> {
    let field = service.field("strategy")?;
    let text = field.text();
    let strategy = match text.as_ref().map(|text| text.value) {
        Some("recreate") => Strategy::Recreate,
        Some("blue-green") => Strategy::BlueGreen,
        _ => {
            let hint = match text.and_then(|text| suggest::closest(text.value, STRATEGIES)) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "`recreate` stops the old release before starting the new one; `blue-green` starts the new one first".to_owned(),
            };
            problems.error_with_hint(
                field.span(),
                "`strategy` must be `\"recreate\"` or `\"blue-green\"`",
                hint,
            );
            return None;
        }
    };
    Some(WrittenStrategy {
        strategy,
        span: field.span(),
    })
}

/// What `[service]` runs. When the kind cannot be told (a bad `runtime`, clashing keys) the
/// problem is reported and a placeholder returned.
pub(super) fn read_workload(
    service: &Section<'_>,
    build: Option<&Section<'_>>,
    strategy: Option<&WrittenStrategy>,
    problems: &mut Problems,
) -> Workload {
    let Some(kind) = read_kind(service, problems) else {
        return Workload::Process {
            command: String::new(),
        };
    };
    if kind != Kind::Container {
        for key in CONTAINER_KEYS {
            if let Some(field) = service.field(key) {
                problems.error_with_hint(
                    field.key_span,
                    format!("`{key}` applies to `runtime = \"container\"` only"),
                    CONTAINER_HINT,
                );
            }
        }
        refuse_container_build_keys(build, problems);
    }
    let engine = match kind {
        Kind::Container | Kind::Compose => read_engine(service, problems),
        Kind::Process | Kind::Static => {
            if let Some(field) = service.field("engine") {
                problems.error_with_hint(
                    field.key_span,
                    "`engine` applies to `runtime = \"container\"` and `compose` only",
                    CONTAINER_HINT,
                );
            }
            None
        }
    };
    let blue_green = strategy.filter(|written| written.strategy == Strategy::BlueGreen);
    match kind {
        Kind::Process => Workload::Process {
            command: read_process_command(service, problems),
        },
        Kind::Container => Workload::Container(read_container(
            service,
            build,
            engine,
            blue_green.is_some(),
            problems,
        )),
        Kind::Compose => {
            if let Some(written) = blue_green {
                problems.error_with_hint(
                    written.span.clone(),
                    "a compose stack cannot be deployed blue-green",
                    "compose stacks are replaced with `strategy = \"recreate\"` (leave `strategy` out)",
                );
            }
            let file = service
                .field("compose")
                .and_then(|field| engine_path(&field, PathKind::Inside, problems));
            Workload::Compose(Compose {
                file: file.unwrap_or_default(),
                engine,
            })
        }
        Kind::Static => {
            if let Some(written) = blue_green {
                problems.error_with_hint(
                    written.span.clone(),
                    "a static site cannot be deployed blue-green",
                    "a static site switches with `live` in one step; leave `strategy` out",
                );
            }
            refuse_process_keys(service, problems);
            let dir = service.field("static").and_then(|field| {
                let text = field.string(problems)?;
                relative_path(&text, "static", PathKind::Any, problems)
            });
            Workload::Static {
                dir: dir.unwrap_or_default(),
            }
        }
    }
}

/// `[build] containerfile` and `context` without a container to build: refused.
pub(super) fn refuse_container_build_keys(build: Option<&Section<'_>>, problems: &mut Problems) {
    for key in CONTAINER_BUILD_KEYS {
        if let Some(field) = build.and_then(|build| build.field(key)) {
            problems.error_with_hint(
                field.key_span,
                format!("`{key}` in `[build]` applies to `runtime = \"container\"` only"),
                CONTAINER_HINT,
            );
        }
    }
}

/// The kind `runtime`, `command`, `compose` and `static` choose; `None` when a problem
/// (reported) leaves it unclear.
fn read_kind(service: &Section<'_>, problems: &mut Problems) -> Option<Kind> {
    let mut choices = Vec::new();
    let mut clear = true;
    if let Some(field) = service.field("runtime") {
        match read_runtime(&field, problems) {
            Some(kind) => choices.push(Choice {
                shown: format!(
                    "`runtime = \"{}\"`",
                    field.item.as_str().unwrap_or_default()
                ),
                span: field.key_span,
                kind,
            }),
            None => clear = false,
        }
    }
    // With `runtime = "container"`, `command` is the container's argv, not a process.
    let container = choices.first().is_some_and(|c| c.kind == Kind::Container);
    for (key, kind) in [
        ("command", Kind::Process),
        ("compose", Kind::Compose),
        ("static", Kind::Static),
    ] {
        if let Some(field) = service.field(key)
            && !(container && key == "command")
        {
            choices.push(Choice {
                shown: format!("`{key}`"),
                span: field.key_span,
                kind,
            });
        }
    }
    let Some(first) = choices.first() else {
        // Nothing chose: a process, whose missing `command` is reported when it is read.
        return clear.then_some(Kind::Process);
    };
    for other in choices.iter().skip(1).filter(|c| c.kind != first.kind) {
        problems.error_with_hint(
            other.span.clone(),
            format!(
                "{} and {} cannot both be set: a service runs one thing",
                first.shown, other.shown
            ),
            KIND_HINT,
        );
        clear = false;
    }
    clear.then_some(first.kind)
}

fn read_runtime(field: &super::section::Field<'_>, problems: &mut Problems) -> Option<Kind> {
    let text = field.text();
    match text.as_ref().map(|text| text.value) {
        Some("process") => Some(Kind::Process),
        Some("container") => Some(Kind::Container),
        _ => {
            let hint = match text.and_then(|text| suggest::closest(text.value, RUNTIMES)) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "`process` runs `command`; `container` runs an image; a compose stack or a static site takes `compose` or `static` instead".to_owned(),
            };
            problems.error_with_hint(
                field.span(),
                "`runtime` must be `\"process\"` or `\"container\"`",
                hint,
            );
            None
        }
    }
}

fn read_engine(service: &Section<'_>, problems: &mut Problems) -> Option<Engine> {
    let field = service.field("engine")?;
    let text = field.text();
    match text.as_ref().map(|text| text.value) {
        Some("podman") => Some(Engine::Podman),
        Some("docker") => Some(Engine::Docker),
        _ => {
            let hint = match text.and_then(|text| suggest::closest(text.value, ENGINES)) {
                Some(close) => format!("did you mean `{close}`?"),
                None => "leave `engine` out to use whichever the host has, podman first".to_owned(),
            };
            problems.error_with_hint(
                field.span(),
                "`engine` must be `\"podman\"` or `\"docker\"`",
                hint,
            );
            None
        }
    }
}

/// A process's `command`: one shell line.
fn read_process_command(service: &Section<'_>, problems: &mut Problems) -> String {
    let Some(field) = service.required(
        "command",
        "command = \"python3 app.py --port $PORT\"",
        problems,
    ) else {
        return String::new();
    };
    if field.item.is_array() {
        problems.error_with_hint(
            field.span(),
            "`command` must be a string",
            "a process's `command` is one shell line; a list of words is for `runtime = \"container\"`",
        );
        return String::new();
    }
    let Some(text) = field.string(problems) else {
        return String::new();
    };
    if text.value.trim().is_empty() {
        problems.error(text.span, "`command` must not be empty");
        return String::new();
    }
    text.value.to_owned()
}

/// A static site runs no process: the keys that tune one, and any proxy but the built-in
/// one (which serves the site), are refused.
fn refuse_process_keys(service: &Section<'_>, problems: &mut Problems) {
    for (key, reason) in PROCESS_ONLY_KEYS {
        let Some(field) = service.field(key) else {
            continue;
        };
        let shown = match field.item.is_table_like() {
            true => format!("`[service.{key}]`"),
            false => format!("`{key}`"),
        };
        problems.error_with_hint(
            field.key_span,
            format!("{shown} does not apply to a static site: {reason}"),
            format!("remove {shown}"),
        );
    }
    if let Some(field) = service.field("proxy")
        && field.item.as_str() != Some("builtin")
    {
        problems.error_with_hint(
            field.key_span,
            "`proxy` does not apply to a static site",
            "the built-in proxy serves static sites; remove `proxy`",
        );
    }
    if let Some(field) = service.field("nginx") {
        problems.error_with_hint(
            field.key_span,
            "`[service.nginx]` does not apply to a static site",
            "the built-in proxy serves static sites; remove `[service.nginx]`",
        );
    }
}

//! What each workload refuses, with its message, its hint and the text it points at:
//! clashing kinds, keys of another kind, strategies a kind cannot honour, and values that
//! could reach an engine's command line as an option.

use super::problem;
use super::workloads::{CONTAINER_HINT, messages, refused, service_of, with, with_service};

#[test]
fn runtime_typos_get_a_suggestion() {
    refused(
        &with_service("runtime = \"contianer\"\nimage = \"app\"\ncontainer_port = 1"),
        "`runtime` must be `\"process\"` or `\"container\"`",
        "did you mean `container`?",
        "\"contianer\"",
    );
    // A runtime that cannot be read does not also refuse the container keys.
    let text = with_service("runtime = \"contianer\"\nimage = \"app\"\ncontainer_port = 1");
    assert_eq!(messages(&text).len(), 1, "{:?}", messages(&text));
    refused(
        &with_service("compose = \"c.yml\"\nengine = \"podmn\""),
        "`engine` must be `\"podman\"` or `\"docker\"`",
        "did you mean `podman`?",
        "\"podmn\"",
    );
}

#[test]
fn a_service_runs_one_thing() {
    let hint = "`command` runs a process, `runtime = \"container\"` a container, `compose` a compose stack and `static` a static site; keep one";
    for (lines, message, at) in [
        (
            "command = \"x\"\nstatic = \"public\"",
            "`command` and `static` cannot both be set: a service runs one thing",
            "static",
        ),
        (
            "command = \"x\"\ncompose = \"compose.yml\"",
            "`command` and `compose` cannot both be set: a service runs one thing",
            "compose",
        ),
        (
            "compose = \"compose.yml\"\nstatic = \"public\"",
            "`compose` and `static` cannot both be set: a service runs one thing",
            "static",
        ),
        (
            "runtime = \"container\"\nimage = \"app\"\ncontainer_port = 1\ncompose = \"c.yml\"",
            "`runtime = \"container\"` and `compose` cannot both be set: a service runs one thing",
            "compose",
        ),
        (
            "runtime = \"process\"\nstatic = \"public\"",
            "`runtime = \"process\"` and `static` cannot both be set: a service runs one thing",
            "static",
        ),
    ] {
        refused(&with_service(lines), message, hint, at);
    }
    // Nothing chosen is a process without its command.
    refused(
        &with_service(""),
        "missing `command` in `[service]`",
        "add `command = \"python3 app.py --port $PORT\"`",
        "[service]",
    );
    // Every kind still needs the public port.
    let text = with("[service]\nstatic = \"public\"");
    problem(&text, "missing `port` in `[service]`");
}

#[test]
fn container_keys_need_runtime_container() {
    for key_line in [
        "image = \"app\"",
        "container_port = 1",
        "volumes = [\"data:/d\"]",
        "user = \"app\"",
        "memory = \"1GB\"",
        "cpus = 1",
    ] {
        let key = key_line.split(' ').next().unwrap_or_default();
        for kind in [
            "command = \"x\"",
            "compose = \"c.yml\"",
            "static = \"public\"",
        ] {
            refused(
                &with_service(&format!("{kind}\n{key_line}")),
                &format!("`{key}` applies to `runtime = \"container\"` only"),
                CONTAINER_HINT,
                key,
            );
        }
    }
    for key in ["containerfile", "context"] {
        let build = format!("[build]\n{key} = \"x\"");
        refused(
            &with(&format!("{build}\n[service]\ncommand = \"x\"\nport = 1")),
            &format!("`{key}` in `[build]` applies to `runtime = \"container\"` only"),
            CONTAINER_HINT,
            key,
        );
        // Without any `[service]` too.
        refused(
            &with(&build),
            &format!("`{key}` in `[build]` applies to `runtime = \"container\"` only"),
            CONTAINER_HINT,
            key,
        );
    }
    for kind in ["command = \"x\"", "static = \"public\""] {
        refused(
            &with_service(&format!("{kind}\nengine = \"podman\"")),
            "`engine` applies to `runtime = \"container\"` and `compose` only",
            CONTAINER_HINT,
            "engine",
        );
    }
}

#[test]
fn a_container_takes_exactly_one_image_source() {
    let container = "runtime = \"container\"\ncontainer_port = 1";
    refused(
        &with_service(container),
        "a container needs `image` or `[build] containerfile`",
        "add `image = \"registry.example.com/app:1.2\"` to `[service]`, or `containerfile = \"Containerfile\"` to `[build]`",
        "[service]",
    );
    refused(
        &with(&format!(
            "[build]\ncontainerfile = \"Containerfile\"\n[service]\nport = 1\n{container}\nimage = \"app\""
        )),
        "`image` and `[build] containerfile` cannot both be set",
        "use `image` to run an image from a registry, or `[build] containerfile` to build one from your files",
        "containerfile",
    );
    refused(
        &with(&format!(
            "[build]\ncontext = \".\"\n[service]\nport = 1\n{container}\nimage = \"app\""
        )),
        "`[build] context` applies to `[build] containerfile` only",
        "remove `context`: an `image` is pulled, not built",
        "context",
    );
    refused(
        &with_service("runtime = \"container\"\nimage = \"app\""),
        "missing `container_port` in `[service]`",
        "add `container_port = 8080`",
        "[service]",
    );
    let text = with_service("runtime = \"container\"\nimage = \"app\"\ncontainer_port = 0");
    let (_, at) = problem(&text, "`container_port` must be an integer from 1 to 65535");
    assert_eq!(at, "0");
}

#[test]
fn a_container_command_is_argv_and_a_process_command_a_line() {
    let container = "runtime = \"container\"\nimage = \"app\"\ncontainer_port = 1";
    refused(
        &with_service(&format!("{container}\ncommand = \"./server --port 8080\"")),
        "a container's `command` must be a list of words, not a string",
        "write `command = [\"./server\", \"--port\", \"8080\"]`: it runs without a shell",
        "\"./server --port 8080\"",
    );
    refused(
        &with_service(&format!("{container}\ncommand = []")),
        "`command` must list at least the program to run",
        "leave `command` out to run the image's own command",
        "[]",
    );
    refused(
        &with_service("command = [\"./server\"]"),
        "`command` must be a string",
        "a process's `command` is one shell line; a list of words is for `runtime = \"container\"`",
        "[\"./server\"]",
    );
}

#[test]
fn blue_green_refuses_a_volume_two_copies_would_write() {
    let text = with_service(
        "runtime = \"container\"\nimage = \"app\"\ncontainer_port = 1\nstrategy = \"blue-green\"\nvolumes = [\"data:/d:ro\", \"shared/uploads:/u\"]",
    );
    refused(
        &text,
        "blue-green would run two copies writing volume `shared/uploads` at once",
        "use `strategy = \"recreate\"`, mount it `:ro`, or mark it `:shared` when two copies may write it",
        "\"shared/uploads:/u\"",
    );
    assert_eq!(messages(&text).len(), 1);
}

#[test]
fn compose_and_static_refuse_blue_green() {
    refused(
        &with_service("compose = \"compose.yml\"\nstrategy = \"blue-green\""),
        "a compose stack cannot be deployed blue-green",
        "compose stacks are replaced with `strategy = \"recreate\"` (leave `strategy` out)",
        "\"blue-green\"",
    );
    refused(
        &with_service("static = \"public\"\nstrategy = \"blue-green\""),
        "a static site cannot be deployed blue-green",
        "a static site switches with `live` in one step; leave `strategy` out",
        "\"blue-green\"",
    );
    // The refused strategy does not also refuse a proxy that goes with it.
    let text = with_service("compose = \"c.yml\"\nstrategy = \"blue-green\"\nproxy = \"builtin\"");
    assert_eq!(messages(&text).len(), 1, "{:?}", messages(&text));
}

#[test]
fn a_static_site_refuses_what_tunes_a_process_or_another_proxy() {
    for (lines, shown, reason, at) in [
        (
            "[service.health]\npath = \"/\"",
            "`[service.health]`",
            "there is no process to probe",
            "health",
        ),
        (
            "[service.restart]\nbackoff = \"2s\"",
            "`[service.restart]`",
            "there is no process to restart",
            "restart",
        ),
        (
            "stop_grace = \"5s\"",
            "`stop_grace`",
            "there is no process to stop",
            "stop_grace",
        ),
        (
            "drain = \"5s\"",
            "`drain`",
            "there is no process to drain",
            "drain",
        ),
        (
            "log_max = \"1MB\"",
            "`log_max`",
            "there is no process log to rotate",
            "log_max",
        ),
    ] {
        // Plain keys go before any sub-table so they stay in `[service]`.
        let text = with_service(&format!("static = \"public\"\n{lines}"));
        refused(
            &text,
            &format!("{shown} does not apply to a static site: {reason}"),
            &format!("remove {shown}"),
            at,
        );
    }
    refused(
        &with_service("static = \"public\"\nproxy = \"nginx\""),
        "`proxy` does not apply to a static site",
        "the built-in proxy serves static sites; remove `proxy`",
        "proxy",
    );
    refused(
        &with_service("static = \"public\"\n[service.nginx]\ncommand = \"nginx\""),
        "`[service.nginx]` does not apply to a static site",
        "the built-in proxy serves static sites; remove `[service.nginx]`",
        "nginx",
    );
    let text = with_service("static = \"../www\"");
    let (_, at) = problem(&text, "path `../www` in `static` must not contain `..`");
    assert_eq!(at, "\"../www\"");
}

#[test]
fn hostile_values_never_reach_an_engine() {
    let container = "runtime = \"container\"\ncontainer_port = 1";
    let image = format!("{container}\nimage = \"app\"");
    let flag = "it starts with `-`, which the engine would read as an option";
    for (lines, message, at) in [
        (
            format!("{container}\nimage = \"--privileged\""),
            format!("invalid `image` `--privileged`: {flag}"),
            "\"--privileged\"",
        ),
        (
            format!("{container}\nimage = \"app latest\""),
            "invalid `image` `app latest`: it contains whitespace or a control character".to_owned(),
            "\"app latest\"",
        ),
        (
            format!("{image}\nuser = \"-u0\""),
            format!("invalid `user` `-u0`: {flag}"),
            "\"-u0\"",
        ),
        (
            format!("{image}\nvolumes = [\"-v:/x\"]"),
            format!("invalid volume `-v:/x`: {flag}"),
            "\"-v:/x\"",
        ),
        (
            format!("{image}\nvolumes = [\"data:/x:rw,z\"]"),
            "invalid volume `data:/x:rw,z`: `rw,z` is not a mode: only `ro` and `shared` are (none means writable)".to_owned(),
            "\"data:/x:rw,z\"",
        ),
        (
            format!("{image}\nvolumes = [\"shared/../etc:/x\"]"),
            "invalid volume `shared/../etc:/x`: `shared/../etc` must not contain `..`".to_owned(),
            "\"shared/../etc:/x\"",
        ),
        (
            format!("{image}\nvolumes = [\"data:relative\"]"),
            "invalid volume `data:relative`: the target `relative` must be an absolute path inside the container".to_owned(),
            "\"data:relative\"",
        ),
    ] {
        let text = with_service(&lines);
        let (diagnostic, spanned) = problem(&text, &message);
        assert_eq!(spanned, at, "{message}");
        assert!(diagnostic.hint.is_some(), "{message}");
    }
    let volume_hint = problem(
        &with_service(&format!("{image}\nvolumes = [\"-v:/x\"]")),
        &format!("invalid volume `-v:/x`: {flag}"),
    )
    .0
    .hint;
    assert!(
        volume_hint.as_deref().is_some_and(
            |hint| hint.contains("`NAME:/path`") && hint.contains("`shared/DIR:/path`")
        ),
        "{volume_hint:?}"
    );
    for (path_line, key, value) in [
        ("[build]\ncontainerfile = \"-f\"", "containerfile", "-f"),
        (
            "[build]\ncontainerfile = \"Containerfile\"\ncontext = \"--squash\"",
            "context",
            "--squash",
        ),
    ] {
        refused(
            &with(&format!("{path_line}\n[service]\nport = 1\n{container}")),
            &format!(
                "path `{value}` in `{key}` must not start with `-`: the engine would read it as an option"
            ),
            &format!("write it as `./{value}`"),
            &format!("\"{value}\""),
        );
    }
    refused(
        &with_service("compose = \"-p.yml\""),
        "path `-p.yml` in `compose` must not start with `-`: the engine would read it as an option",
        "write it as `./-p.yml`",
        "\"-p.yml\"",
    );
    service_of(&with_service("compose = \"./-p.yml\""));
}

#[test]
fn limits_are_refused_outside_their_range() {
    let image = "runtime = \"container\"\nimage = \"app\"\ncontainer_port = 1";
    let cpus_message = "`cpus` must be more than 0 and at most 1024";
    for cpus in ["0", "0.0", "-1", "1025", "1024.5", "nan", "inf"] {
        let text = with_service(&format!("{image}\ncpus = {cpus}"));
        let (_, at) = problem(&text, cpus_message);
        assert_eq!(at, cpus);
    }
    refused(
        &with_service(&format!("{image}\ncpus = 0.0004")),
        "`cpus` rounds to 0: it counts in thousandths of a CPU",
        "the smallest limit is `cpus = 0.001`",
        "0.0004",
    );
    problem(
        &with_service(&format!("{image}\ncpus = \"2\"")),
        "`cpus` must be a number",
    );
    refused(
        &with_service(&format!("{image}\nmemory = \"1KB\"")),
        "`memory` must be at least `6MB`",
        "podman refuses a smaller limit; e.g. `memory = \"512MB\"`",
        "\"1KB\"",
    );
    problem(
        &with_service(&format!("{image}\nmemory = \"lots\"")),
        "`memory` must be a size like `\"512MB\"`",
    );
    problem(
        &with_service(&format!("{image}\nvolumes = [\"a:/d:ro\", \"b:/d:ro\"]")),
        "two volumes mount at `/d`",
    );
}

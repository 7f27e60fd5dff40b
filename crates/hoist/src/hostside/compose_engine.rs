//! Compose stacks: the instance monitor runs `up` in the foreground (podman-compose, or
//! `docker compose`), so the stack's output lands in the service log and its end is seen.
//! Neither client takes its containers down when it is signalled, so a stop removes them by
//! the project label both set. The project is named for the app and environment, sanitized
//! (`spec::engine_name`); its containers are `<project>_<service>_<n>` (podman-compose) or
//! `<project>-<service>-<n>` (docker compose).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::hostside::container_engine::{engine_command, engine_path, engine_program};
use crate::ports::runtime::{ComposeLaunch, StackService};

/// The label both compose clients put on a project's containers, networks and volumes.
const PROJECT_LABEL: &str = "com.docker.compose.project";
/// podman-compose's own, the only one it puts on volumes.
const PODMAN_PROJECT_LABEL: &str = "io.podman.compose.project";
const SERVICE_LABEL: &str = "com.docker.compose.service";

/// The compose client and the arguments before its own: `podman-compose` or `docker compose`.
fn client(engine: Option<&str>) -> Result<(PathBuf, Vec<&'static str>)> {
    let engine = engine_program(engine)?;
    if engine.file_name().is_some_and(|n| n == "docker") {
        return Ok((engine, vec!["compose"]));
    }
    std::env::split_paths(&engine_path())
        .map(|dir| dir.join("podman-compose"))
        .find(|program| program.is_file())
        .map(|program| (program, Vec::new()))
        .ok_or_else(|| {
            Error::failed("podman-compose is not on this host's PATH")
                .hint("install it on the host (`apt-get install podman-compose`), or set `engine = \"docker\"` where docker's compose plugin is installed")
        })
}

/// `up` in the foreground, in the release directory, with `variables` in its environment (the
/// file's interpolation reads them there; never on its command line).
pub(crate) fn up_command(
    release_dir: &Path,
    compose: &ComposeLaunch,
    variables: &[(String, String)],
) -> Result<Command> {
    let (program, prefix) = client(compose.engine.as_deref())?;
    let mut command = engine_command(&program);
    command
        .args(prefix)
        .arg(format!("--project-name={}", compose.project))
        .arg(format!("--file={}", compose.file))
        .arg("up")
        .current_dir(release_dir)
        .env_clear()
        .envs(variables.iter().map(|(k, v)| (k, v)))
        .env("PATH", engine_path());
    Ok(command)
}

/// Removes the project's containers (what a signalled `up` leaves running) and its default
/// network; volumes stay unless `volumes`.
pub(crate) fn down(compose: &ComposeLaunch, volumes: bool) -> Result<()> {
    let engine = engine_program(compose.engine.as_deref())?;
    let filter = format!("--filter=label={PROJECT_LABEL}={}", compose.project);
    let ids = output(engine_command(&engine).args(["ps", "--all", "--quiet", &filter]))?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut remove = engine_command(&engine);
        remove.args(["rm", "--force", "--time=0"]).args(&ids);
        output(&mut remove)?;
    }
    let networks = output(engine_command(&engine).args(["network", "ls", "--quiet", &filter]))
        .unwrap_or_default();
    // podman-compose 1.0 does not label its network; it is `<project>_default`.
    let mut names: Vec<String> = networks.split_whitespace().map(str::to_owned).collect();
    names.push(format!("{}_default", compose.project));
    for name in names {
        let _ = output(engine_command(&engine).args(["network", "rm", &name]));
    }
    kill_orphaned_monitors(&compose.project);
    if volumes {
        remove_volumes(&compose.project, compose.engine.as_deref())?;
    }
    Ok(())
}

/// A stack stopped while `up` was still starting a service leaves that container's conmon
/// and its `runc init` behind once the container is removed: they are killed, found by the
/// project in conmon's `-n <project>_<service>_<n>`.
fn kill_orphaned_monitors(project: &str) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for pid in entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()) {
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
        let is_conmon = args
            .first()
            .is_some_and(|program| program.rsplit(|&b| b == b'/').next() == Some(b"conmon"));
        let ours = args.windows(2).any(|pair| {
            pair[0] == b"-n"
                && pair[1]
                    .strip_prefix(project.as_bytes())
                    .is_some_and(|rest| rest.first().is_some_and(|&c| c == b'_' || c == b'-'))
        });
        if !(is_conmon && ours) {
            continue;
        }
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for child in children
            .split_whitespace()
            .filter_map(|c| c.parse::<i32>().ok())
        {
            remove_network_namespace_of(child);
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Removes the volumes of `project`: those its compose clients labelled with it, and the
/// named volumes of its containers, `<project>.<name>` (a project never holds a `.`, so no
/// other environment's name starts that way; a bare prefix match would take `dev-2`'s for
/// `dev`'s).
pub(crate) fn remove_volumes(project: &str, engine: Option<&str>) -> Result<Vec<String>> {
    let engine = engine_program(engine)?;
    let mut names: Vec<String> = Vec::new();
    for label in [PROJECT_LABEL, PODMAN_PROJECT_LABEL] {
        let labelled = output(engine_command(&engine).args([
            "volume",
            "ls",
            "--format={{.Name}}",
            &format!("--filter=label={label}={project}"),
        ]))?;
        names.extend(labelled.split_whitespace().map(str::to_owned));
    }
    let all = output(engine_command(&engine).args(["volume", "ls", "--format={{.Name}}"]))?;
    let prefix = format!("{project}.");
    names.extend(
        all.split_whitespace()
            .filter(|name| name.starts_with(&prefix))
            .map(str::to_owned),
    );
    names.sort();
    names.dedup();
    for name in &names {
        output(engine_command(&engine).args(["volume", "rm", "--force", name]))?;
    }
    Ok(names)
}

/// The engine's named network namespace (`/run/netns/netns-…`) that `pid` runs in: nobody
/// cleans it up once its container was removed mid-start, so it goes with the process.
fn remove_network_namespace_of(pid: i32) {
    use std::os::unix::fs::MetadataExt;
    let (Ok(own), Ok(host)) = (
        std::fs::metadata(format!("/proc/{pid}/ns/net")),
        std::fs::metadata("/proc/self/ns/net"),
    ) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    if own.ino() == host.ino() {
        return;
    }
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let same = std::fs::metadata(entry.path()).is_ok_and(|m| m.ino() == own.ino());
        if name.starts_with("netns-") && same {
            let _ = engine_command(Path::new("ip"))
                .args(["netns", "delete", &name])
                .stdin(Stdio::null())
                .output();
        }
    }
}

/// The project's containers with their service and state (`running`, `exited`, …), from the
/// engine's JSON listing: podman's is one array, docker's one object a line.
pub(crate) fn services(compose: &ComposeLaunch) -> Result<Vec<StackService>> {
    let engine = engine_program(compose.engine.as_deref())?;
    let text = output(engine_command(&engine).args([
        "ps",
        "--all",
        &format!("--filter=label={PROJECT_LABEL}={}", compose.project),
        "--format=json",
    ]))?;
    let rows: Vec<serde_json::Value> = match serde_json::from_str(&text) {
        Ok(serde_json::Value::Array(rows)) => rows,
        _ => text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect(),
    };
    Ok(rows.iter().filter_map(stack_service).collect())
}

fn stack_service(row: &serde_json::Value) -> Option<StackService> {
    let container = match &row["Names"] {
        serde_json::Value::Array(names) => names.first()?.as_str()?.to_owned(),
        serde_json::Value::String(names) => names.split(',').next()?.to_owned(),
        _ => return None,
    };
    let service = match &row["Labels"] {
        serde_json::Value::Object(labels) => labels.get(SERVICE_LABEL)?.as_str()?.to_owned(),
        // docker: `key=value,key=value`.
        serde_json::Value::String(labels) => labels
            .split(',')
            .find_map(|pair| pair.strip_prefix(&format!("{SERVICE_LABEL}=")))?
            .to_owned(),
        _ => return None,
    };
    let state = row["State"].as_str().unwrap_or("unknown").to_lowercase();
    Some(StackService {
        service,
        container,
        state,
    })
}

fn output(command: &mut Command) -> Result<String> {
    let result = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::failed("cannot run the container engine").cause(e))?;
    if !result.status.success() {
        return Err(Error::failed("the container engine refused")
            .cause(String::from_utf8_lossy(&result.stderr).trim().to_owned()));
    }
    Ok(String::from_utf8_lossy(&result.stdout).into_owned())
}

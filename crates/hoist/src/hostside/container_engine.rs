//! Container instances through an engine's command line (podman, or docker's compatible
//! one). The instance monitor runs `ENGINE run --rm …` in the foreground as its child, so a
//! container is supervised, logged, probed and stopped like a process: the engine's client
//! leads nothing, it is one more member of the monitor's group and proxies SIGTERM to the
//! container. What outlives a SIGKILLed client (the container under the engine's own monitor)
//! is found by name and label and removed.
//!
//! Every argument is `--option=value` built here from validated values, the environment goes
//! through a 0600 file (`--env-file`), so no secret is ever on a command line.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::hostside::root_id;
use crate::ports::runtime::{ContainerLaunch, Slot};

/// The engine's own settings, passed to the engine (never into the container).
pub(crate) const ENGINE_VARIABLES: [&str; 6] = [
    "CONTAINERS_CONF",
    "CONTAINERS_REGISTRIES_CONF",
    "CONTAINERS_STORAGE_CONF",
    "XDG_RUNTIME_DIR",
    "DOCKER_HOST",
    "TMPDIR",
];
/// The label on every image hoist builds: `<app>/<env>`.
pub(crate) const IMAGE_LABEL: &str = "hoist.image";

/// Where the images hoist builds are named: `localhost/hoist/<app>/<env>:<release>`.
pub(crate) const BUILT_IMAGES: &str = "localhost/hoist/";

/// Labels every container hoist starts carries: `<root id>:<slot>`, and the root's id alone
/// (for listing a root's containers).
pub(crate) const INSTANCE_LABEL: &str = "hoist.instance";
pub(crate) const ROOT_LABEL: &str = "hoist.root";
const RELEASE_LABEL: &str = "hoist.release";
/// Written the first time a root runs a container, so roots that never did are not asked
/// about containers (each engine call costs a process start).
const USES_CONTAINERS: &str = "uses-containers";

/// `hoist-<root id>-<slot>`: unique per root and slot, so a start replaces only its own slot's
/// leftover and a probe's answerer can be matched to the instance.
pub(crate) fn container_name(root_id: &str, slot: Slot) -> String {
    format!("hoist-{root_id}-{slot}")
}

/// Where an engine and its helpers are looked for: `PATH` and the standard directories it
/// lacks. Started from cron (`PATH=/usr/bin:/bin`), podman's netavark cannot find iptables
/// in `/usr/sbin` and no container starts after a reboot.
pub(crate) fn engine_path() -> std::ffi::OsString {
    let mut dirs: Vec<PathBuf> =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect();
    for dir in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        if !dirs.iter().any(|known| known == Path::new(dir)) {
            dirs.push(PathBuf::from(dir));
        }
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// A command running `program` (an engine, its compose client, a registry) with
/// `engine_path` as its `PATH`.
pub(crate) fn engine_command(program: &Path) -> Command {
    let mut command = Command::new(program);
    command.env("PATH", engine_path());
    command
}

/// The engine program: the one asked for, else podman, else docker, as found on
/// `engine_path`.
pub(crate) fn engine_program(asked: Option<&str>) -> Result<PathBuf> {
    let candidates: Vec<&str> = match asked {
        Some(name) => vec![name],
        None => vec!["podman", "docker"],
    };
    let path = engine_path();
    for name in &candidates {
        for dir in std::env::split_paths(&path) {
            let program = dir.join(name);
            if program.is_file() {
                return Ok(program);
            }
        }
    }
    Err(Error::failed(format!(
        "no container engine on this host (looked for {} on PATH)",
        candidates.join(", ")
    ))
    .hint("install podman (`apt-get install podman`) or docker on the host"))
}

/// Whether this root ever ran a container.
pub(crate) fn root_uses_containers(root: &Path) -> bool {
    root.join(".hoist").join(USES_CONTAINERS).exists()
}

/// The engine command that runs one instance in the foreground. The instance's variables go
/// to `run/container-<slot>.env` (0600), read by the engine.
pub(crate) fn run_command(
    root: &Path,
    slot: Slot,
    release: &str,
    port: u16,
    container: &ContainerLaunch,
    variables: &[(String, String)],
) -> Result<Command> {
    let id = root_id::read_or_create(root)?;
    let marker = root.join(".hoist").join(USES_CONTAINERS);
    if !marker.exists() {
        fs::write(&marker, b"").map_err(|e| Error::io("write", &marker, e))?;
    }
    let env_file = env_file_path(root, slot.as_str());
    write_env_file(&env_file, variables)?;
    let engine = engine_program(container.engine.as_deref())?;
    let name = container_name(&id, slot);
    let is_podman = engine.file_name().is_some_and(|n| n == "podman");
    if !is_podman {
        // docker has no `--replace`: a leftover of this slot goes first.
        remove(&engine, &name)?;
    }
    let mut args: Vec<OsString> = vec!["run".into(), "--rm".into()];
    if is_podman {
        args.push("--replace".into());
    }
    let mut option = |name: &str, value: &str| args.push(format!("--{name}={value}").into());
    option("name", &name);
    option("label", &format!("{INSTANCE_LABEL}={id}:{slot}"));
    option("label", &format!("{ROOT_LABEL}={id}"));
    option("label", &format!("{RELEASE_LABEL}={release}"));
    option("env-file", &path_text(&env_file)?);
    option(
        "publish",
        &format!("127.0.0.1:{port}:{}", container.container_port),
    );
    if container.image.starts_with(BUILT_IMAGES) {
        // Built by hoist and already here: never looked for in a registry.
        option("pull", "never");
    }
    if let Some(user) = &container.user {
        option("user", user);
    }
    if let Some(memory) = container.memory {
        option("memory", &format!("{memory}b"));
    }
    if let Some(millicpus) = container.millicpus {
        option(
            "cpus",
            &format!("{}.{:03}", millicpus / 1000, millicpus % 1000),
        );
    }
    for volume in &container.volumes {
        let source = if volume.shared {
            let dir = root.join("shared").join(&volume.source);
            fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
            path_text(&dir)?
        } else {
            volume.source.clone()
        };
        let mode = if volume.read_only { ":ro" } else { "" };
        option("volume", &format!("{source}:{}{mode}", volume.target));
    }
    args.push(container.image.clone().into());
    args.extend(container.command.iter().flatten().map(OsString::from));
    let mut command = engine_command(&engine);
    command.args(args);
    Ok(command)
}

/// Pulls `image` from its registry (the engine's registries.conf says how to reach it).
pub(crate) fn pull(image: &str, engine: Option<&str>) -> Result<()> {
    let engine = engine_program(engine)?;
    let output = engine_command(&engine)
        .args(["pull", "--quiet", image])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::failed(format!("cannot run `{}`", engine.display())).cause(e))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::failed(format!("cannot pull image `{image}`"))
        .cause(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        .hint("check the image name and that this host can reach its registry (and log in to it, if it needs that)"))
}

/// Removes the container `name` at once (it is already being stopped, or is a leftover);
/// false when there was none.
pub(crate) fn remove(engine: &Path, name: &str) -> Result<bool> {
    let output = engine_command(engine)
        .args(["rm", "--force", "--time=0", name])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::failed(format!("cannot run `{}`", engine.display())).cause(e))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        return Ok(!String::from_utf8_lossy(&output.stdout).trim().is_empty());
    }
    if stderr.contains("no such container") || stderr.contains("No such container") {
        return Ok(false);
    }
    Err(Error::failed(format!("cannot remove container `{name}`")).cause(stderr.trim().to_owned()))
}

/// Removes this root's container of `slot`, if any (after its client was stopped), and the
/// env file it was started with.
pub(crate) fn remove_slot(root: &Path, slot: Slot, engine: Option<&str>) -> Result<bool> {
    let env_file = env_file_path(root, slot.as_str());
    if let Err(error) = fs::remove_file(&env_file)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        return Err(Error::io("remove", &env_file, error));
    }
    let Some(id) = root_id::read(root) else {
        return Ok(false);
    };
    remove(&engine_program(engine)?, &container_name(&id, slot))
}

/// Untags each of `images` that hoist built (`localhost/hoist/…`); one in use or gone stays
/// as it is. Returns the removed ones.
pub(crate) fn remove_images(images: &[String], engine: Option<&str>) -> Result<Vec<String>> {
    if images.is_empty() {
        return Ok(Vec::new());
    }
    let engine = engine_program(engine)?;
    let mut removed = Vec::new();
    for image in images.iter().filter(|i| i.starts_with(BUILT_IMAGES)) {
        let done = engine_command(&engine)
            .args(["rmi", image])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if done {
            removed.push(image.clone());
        }
    }
    // Builds left without a tag (each release's image once its tag went, older `pending`
    // builds) of the same environments, found by their label; anyone else's stay.
    let mut environments: Vec<&str> = images
        .iter()
        .filter_map(|image| image.strip_prefix(BUILT_IMAGES)?.rsplit_once(':'))
        .map(|(repository, _)| repository)
        .collect();
    environments.sort_unstable();
    environments.dedup();
    for environment in environments {
        let _ = engine_command(&engine)
            .args([
                "image",
                "prune",
                "--force",
                &format!("--filter=label={IMAGE_LABEL}={environment}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    Ok(removed)
}

/// This root's containers: (name, slot), as the engine lists them.
pub(crate) fn containers_of_root(root: &Path) -> Result<Vec<(String, Slot)>> {
    let Some(id) = root_id::read(root) else {
        return Ok(Vec::new());
    };
    let engine = engine_program(None)?;
    let output = engine_command(&engine)
        .args([
            "ps",
            "--all",
            &format!("--filter=label={ROOT_LABEL}={id}"),
            "--format={{.Names}}",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::failed(format!("cannot run `{}`", engine.display())).cause(e))?;
    if !output.status.success() {
        return Err(Error::failed("cannot list the root's containers")
            .cause(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text
        .lines()
        .filter_map(|name| {
            let slot = Slot::PAIR
                .into_iter()
                .chain([Slot::Single])
                .find(|slot| name.trim() == container_name(&id, *slot))?;
            Some((name.trim().to_owned(), slot))
        })
        .collect())
}

/// `run/container-<slot>.env`, or `run/container-compose.env` for a stack.
pub(crate) fn env_file_path(root: &Path, slot: &str) -> PathBuf {
    root.join("run").join(format!("container-{slot}.env"))
}

/// Writes `KEY=VALUE` lines, 0600, replaced whole. A value with a line break cannot be said in
/// an env file and is refused by name (never by value).
pub(crate) fn write_env_file(path: &Path, variables: &[(String, String)]) -> Result<()> {
    let mut text = String::new();
    for (name, value) in variables {
        if value.contains(['\n', '\r']) || name.contains(['\n', '\r', '=']) {
            return Err(Error::failed(format!(
                "the variable `{}` cannot be passed to a container: its value holds a line break",
                name.replace(['\n', '\r'], " ")
            ))
            .hint("container env files hold one line per variable; encode the value (base64) and decode it in the app"));
        }
        text.push_str(name);
        text.push('=');
        text.push_str(value);
        text.push('\n');
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    let temporary = path.with_extension("env.tmp");
    let _ = fs::remove_file(&temporary);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(|e| Error::io("create", &temporary, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io("write", &temporary, e))?;
    fs::rename(&temporary, path).map_err(|e| Error::io("replace", path, e))
}

fn path_text(path: &Path) -> Result<String> {
    path.to_str().map(str::to_owned).ok_or_else(|| {
        Error::failed(format!("the path `{}` is not UTF-8", path.display()))
            .hint("use a deploy root whose path is UTF-8")
    })
}

#[cfg(test)]
mod tests;

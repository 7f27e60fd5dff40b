//! Starting an instance: the monitor process (`hoist host instance`) that leads its group,
//! and the service command the monitor runs with the instance's environment. Shared by the
//! runtime's `start` and the supervisor's restarts.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;

use hoist_core::ReleaseId;

use super::{INHERITED_VARIABLES, env_file};
use crate::error::{Error, Result};
use crate::hostside::compose_engine;
use crate::hostside::container_engine;
use crate::hostside::hoist_binary::hoist_binary;
use crate::hostside::instance_record::LaunchSpec;
use crate::hostside::layout::Layout;
use crate::hostside::proc_identity;
use crate::hostside::root_id::{self, INSTANCE_MARK};
use crate::ports::runtime::{ContainerLaunch, Instance, Slot};

/// On a compose instance's monitor: the project, whose containers answer for it.
pub(crate) const COMPOSE_PROJECT_MARK: &str = "HOIST_COMPOSE_PROJECT";

/// `<root id>:<slot>`. The root's id, not its path: two roots at one path (hosts in
/// containers or mount namespaces sharing a process table) must not claim each other's.
pub(crate) fn mark(root: &Path, slot: Slot) -> Result<String> {
    Ok(format!("{}:{slot}", root_id::read_or_create(root)?))
}

/// The env file `release` was made ready with (its own copy, else `config/env`, written by
/// configure), or `config/env` when no release is named; nothing if it does not exist.
pub(crate) fn configured_variables(
    root: &Path,
    release: Option<&ReleaseId>,
) -> Result<Vec<(String, String)>> {
    let layout = Layout::open(root);
    let dir = match release {
        Some(release) => layout.release_config_dir(release),
        None => layout.config_dir(),
    };
    let path = dir.join("env");
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(Error::io("read", &path, error)),
    };
    env_file::parse(&text).map_err(|problem| {
        Error::failed(format!("cannot read `{}`", path.display()))
            .cause(problem)
            .hint("run `configure` again to rewrite it")
    })
}

/// The service's command as the monitor runs it: `sh -c` in the release directory with only
/// the inherited basics, the configured variables, the spec's, `PORT`, `HOIST_RELEASE` and
/// the instance mark (the monitor's own, set by whoever started it).
pub(crate) fn instance_command(root: &Path, launch: &LaunchSpec) -> Result<Command> {
    let release_dir = root.join("releases").join(launch.release.as_str());
    // Its own release's configuration: with blue-green it starts before `live` switches.
    let configured = configured_variables(root, Some(&launch.release))?;
    if let Some(container) = &launch.container {
        return container_command(root, launch, container, configured);
    }
    if let Some(compose) = &launch.compose {
        // The environment's variables (secrets among them) go to a 0600 file the compose
        // file names (`env_file: ${HOIST_ENV_FILE}`), not into the client's environment,
        // which the engine's helper daemons (aardvark-dns) inherit and keep.
        let env_file = container_engine::env_file_path(root, "compose");
        container_engine::write_env_file(&env_file, &configured)?;
        let mut variables: Vec<(String, String)> = INHERITED_VARIABLES
            .iter()
            .chain(&container_engine::ENGINE_VARIABLES)
            .filter_map(|name| Some(((*name).to_owned(), std::env::var(name).ok()?)))
            .collect();
        variables.extend(launch.env.iter().cloned());
        variables.push(("PORT".to_owned(), launch.port.to_string()));
        variables.push(("HOIST_RELEASE".to_owned(), launch.release.to_string()));
        variables.push(("HOIST_ENV_FILE".to_owned(), env_file.display().to_string()));
        return compose_engine::up_command(&release_dir, compose, &variables);
    }
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(&launch.command)
        .current_dir(&release_dir)
        .env_clear();
    for name in INHERITED_VARIABLES.iter().chain([&INSTANCE_MARK]) {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
        .envs(configured)
        .envs(launch.env.iter().map(|(key, value)| (key, value)))
        .env("PORT", launch.port.to_string())
        .env("HOIST_RELEASE", launch.release.as_str());
    Ok(command)
}

/// The engine running the container in the foreground. Its variables reach the container
/// through the engine's env file; the engine itself sees only the basics and its own settings.
fn container_command(
    root: &Path,
    launch: &LaunchSpec,
    container: &ContainerLaunch,
    configured: Vec<(String, String)>,
) -> Result<Command> {
    let slot = std::env::var(INSTANCE_MARK)
        .ok()
        .and_then(|mark| mark.rsplit_once(':')?.1.parse::<Slot>().ok())
        .ok_or_else(|| Error::internal("the monitor has no instance mark"))?;
    let mut variables = configured;
    variables.extend(launch.env.iter().cloned());
    variables.push(("PORT".to_owned(), container.container_port.to_string()));
    variables.push(("HOIST_RELEASE".to_owned(), launch.release.to_string()));
    let mut command = container_engine::run_command(
        root,
        slot,
        launch.release.as_str(),
        launch.port,
        container,
        &variables,
    )?;
    command
        .current_dir(root.join("releases").join(launch.release.as_str()))
        .env_clear();
    // Not the instance mark: helper daemons the engine starts (aardvark-dns) would inherit
    // it and count as this root's strays. The monitor leading the group carries it.
    for name in INHERITED_VARIABLES
        .iter()
        .chain(&container_engine::ENGINE_VARIABLES)
    {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command.env("PATH", container_engine::engine_path());
    Ok(command)
}

/// Starts the monitor of a new instance of `slot` (it starts the command) and returns it with
/// the instance's identity. The caller records it.
pub(crate) fn spawn_monitor(
    root: &Path,
    slot: Slot,
    launch: &LaunchSpec,
) -> Result<(Child, Instance)> {
    let release_dir = root.join("releases").join(launch.release.as_str());
    if !release_dir.is_dir() {
        return Err(Error::failed(format!(
            "release `{}` has no directory `{}`",
            launch.release,
            release_dir.display()
        ))
        .hint("upload the release before starting it"));
    }
    let binary = hoist_binary(root)?;
    let logs = root.join("logs");
    fs::create_dir_all(&logs).map_err(|e| Error::io("create", &logs, e))?;
    let log_path = logs.join(format!("{}.log", launch.release));
    // The monitor's own failures (before it can write the log properly) land there too.
    let raw_log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Error::io("open the log", &log_path, e))?;
    let raw_err = raw_log
        .try_clone()
        .map_err(|e| Error::io("open the log", &log_path, e))?;
    let root_text = root.to_str().ok_or_else(|| {
        Error::failed(format!("the deploy root `{}` is not UTF-8", root.display()))
    })?;
    let mut command = Command::new(&binary);
    command
        .args([
            "host",
            "--root",
            root_text,
            "instance",
            "--slot",
            slot.as_str(),
        ])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(raw_log)
        .stderr(raw_err)
        // Its own group: it outlives hoist, and stop signals it with all its children.
        .process_group(0);
    let engine_variables = if launch.container.is_some() || launch.compose.is_some() {
        &container_engine::ENGINE_VARIABLES[..]
    } else {
        &[][..]
    };
    for name in INHERITED_VARIABLES.iter().chain(engine_variables) {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command.env(INSTANCE_MARK, mark(root, slot)?);
    if let Some(compose) = &launch.compose {
        // How a probe tells the stack's containers from anyone else's.
        command.env(COMPOSE_PROJECT_MARK, &compose.project);
    }
    // Instances, hooks and the host's own processes run at the priority the controller
    // started with, not the one it lowered itself to (`cpu_priority`).
    let _normal = crate::cpu_priority::NormalPriority::for_spawn();
    let mut child = command.spawn().map_err(|error| {
        Error::failed(format!("cannot start release `{}`", launch.release))
            .cause(format!("`{}`: {error}", binary.display()))
    })?;
    let pid = child.id();
    let launch_json = serde_json::to_vec(launch)
        .map_err(|e| Error::internal("cannot encode the launch spec").cause(e));
    let sent = launch_json.and_then(|json| {
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| Error::internal("the monitor has no stdin"))?;
        stdin
            .write_all(&json)
            .map_err(|e| Error::internal("cannot send the launch spec").cause(e))
    });
    // The child is not reaped yet, so its /proc entry exists even if it already exited.
    let stat = proc_identity::read(pid);
    let (Ok(()), Some(stat)) = (sent, stat) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::internal(format!(
            "cannot start the monitor of release `{}` (pid {pid})",
            launch.release
        )));
    };
    let instance = Instance {
        release: launch.release.clone(),
        pid,
        start_ticks: stat.start_ticks,
        port: launch.port,
        started_at: jiff::Timestamp::now().to_string(),
        log: log_path.display().to_string(),
    };
    Ok((child, instance))
}

/// Reaps `child` when it exits, so a dead instance does not linger as a zombie.
pub(crate) fn reap_later(child: Child) {
    let pid = child.id();
    let mut child = child;
    drop(
        thread::Builder::new()
            .name(format!("reap-{pid}"))
            .spawn(move || child.wait()),
    );
}

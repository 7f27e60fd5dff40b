//! Compose stacks: the instance monitor runs `up` in the foreground (podman-compose, or
//! `docker compose`), so the stack's output lands in the service log and its end is seen.
//! Neither client takes its containers down when it is signalled, so a stop removes them by
//! the project label both set. The project is named for the app and environment, sanitized
//! (`spec::engine_name`); its containers are `<project>_<service>_<n>` (podman-compose) or
//! `<project>-<service>-<n>` (docker compose).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hostside::container_engine::engine_program;
use crate::ports::runtime::ComposeLaunch;

/// The label both compose clients put on a project's containers, networks and volumes.
const PROJECT_LABEL: &str = "com.docker.compose.project";
const SERVICE_LABEL: &str = "com.docker.compose.service";

/// One service of a running stack, as `status` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComposeService {
    pub service: String,
    pub container: String,
    pub state: String,
}

/// The compose client and the arguments before its own: `podman-compose` or `docker compose`.
fn client(engine: Option<&str>) -> Result<(PathBuf, Vec<&'static str>)> {
    let engine = engine_program(engine)?;
    if engine.file_name().is_some_and(|n| n == "docker") {
        return Ok((engine, vec!["compose"]));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
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
    let mut command = Command::new(program);
    command
        .args(prefix)
        .arg(format!("--project-name={}", compose.project))
        .arg(format!("--file={}", compose.file))
        .arg("up")
        .current_dir(release_dir)
        .env_clear()
        .envs(variables.iter().map(|(k, v)| (k, v)));
    Ok(command)
}

/// Removes the project's containers (what a signalled `up` leaves running) and its default
/// network; volumes stay unless `volumes`.
pub(crate) fn down(compose: &ComposeLaunch, volumes: bool) -> Result<()> {
    let engine = engine_program(compose.engine.as_deref())?;
    let filter = format!("--filter=label={PROJECT_LABEL}={}", compose.project);
    let ids = output(Command::new(&engine).args(["ps", "--all", "--quiet", &filter]))?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut remove = Command::new(&engine);
        remove.args(["rm", "--force", "--time=0"]).args(&ids);
        output(&mut remove)?;
    }
    let networks = output(Command::new(&engine).args(["network", "ls", "--quiet", &filter]))
        .unwrap_or_default();
    // podman-compose 1.0 does not label its network; it is `<project>_default`.
    let mut names: Vec<String> = networks.split_whitespace().map(str::to_owned).collect();
    names.push(format!("{}_default", compose.project));
    for name in names {
        let _ = output(Command::new(&engine).args(["network", "rm", &name]));
    }
    if volumes {
        let listed = output(Command::new(&engine).args(["volume", "ls", "--quiet", &filter]))?;
        for name in listed.split_whitespace() {
            output(Command::new(&engine).args(["volume", "rm", "--force", name]))?;
        }
    }
    Ok(())
}

/// The project's containers with their service and state.
pub(crate) fn services(compose: &ComposeLaunch) -> Result<Vec<ComposeService>> {
    let engine = engine_program(compose.engine.as_deref())?;
    let text = output(Command::new(&engine).args([
        "ps",
        "--all",
        &format!("--filter=label={PROJECT_LABEL}={}", compose.project),
        &format!(
            "--format={{{{.Names}}}}\t{{{{index .Labels \"{SERVICE_LABEL}\"}}}}\t{{{{.State}}}}"
        ),
    ]))?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let container = fields.next()?.trim().to_owned();
            let service = fields.next()?.trim().to_owned();
            let state = fields.next().unwrap_or("").trim().to_owned();
            Some(ComposeService {
                service,
                container,
                state,
            })
        })
        .collect())
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

//! A container service's image on the controller: which reference an instance runs, how a
//! `Containerfile` is built and tagged with the release id, and the launch the hosts get.

use std::path::Path;
use std::process::Stdio;

use hoist_core::spec::{Container, ImageSource, VolumeMode, VolumeSource, Workload, engine_name};
use hoist_core::{EnvName, ReleaseId};

use crate::error::{Error, Result};
use crate::hostside::container_engine;
use crate::ports::runtime::{ContainerLaunch, ContainerVolume};

/// The label every image hoist builds carries: `<app>/<env>`.
pub(crate) const IMAGE_LABEL: &str = container_engine::IMAGE_LABEL;

/// The repository an environment's built images are kept under:
/// `localhost/hoist/<app>/<env>`, so pruning one environment never untags another's.
pub(crate) fn built_repository(app: &str, env: &EnvName) -> String {
    format!("localhost/hoist/{app}/{env}")
}

/// The image an instance of `release` runs: the pulled reference, or the build's tag.
pub(crate) fn image_of(
    app: &str,
    env: &EnvName,
    container: &Container,
    release: &ReleaseId,
) -> String {
    match &container.image {
        ImageSource::Pull(image) => image.clone(),
        ImageSource::Build { .. } => format!("{}:{release}", built_repository(app, env)),
    }
}

/// The built images of `releases` (none when the service's image is pulled: those belong to
/// their registry).
pub(crate) fn built_images(
    app: &str,
    env: &EnvName,
    service: Option<&hoist_core::spec::Service>,
    releases: &[ReleaseId],
) -> Vec<String> {
    match service.map(|s| &s.workload) {
        Some(Workload::Container(container))
            if matches!(container.image, ImageSource::Build { .. }) =>
        {
            releases
                .iter()
                .map(|id| image_of(app, env, container, id))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Whether the service runs in a container engine (a container or a compose stack).
pub(crate) fn uses_engine(service: Option<&hoist_core::spec::Service>) -> bool {
    matches!(
        service.map(|s| &s.workload),
        Some(Workload::Container(_) | Workload::Compose(_))
    )
}

/// The engine a container or compose service asked for, if any.
pub(crate) fn engine_of(service: Option<&hoist_core::spec::Service>) -> Option<String> {
    match service.map(|s| &s.workload) {
        Some(Workload::Container(container)) => container.engine.map(|e| e.as_str().to_owned()),
        Some(Workload::Compose(compose)) => compose.engine.map(|e| e.as_str().to_owned()),
        _ => None,
    }
}

/// What the host's monitor needs to run the container.
pub(crate) fn launch(
    app: &str,
    env: &EnvName,
    container: &Container,
    release: &ReleaseId,
) -> ContainerLaunch {
    let prefix = engine_name(app, env.as_str());
    ContainerLaunch {
        engine: container.engine.map(|engine| engine.as_str().to_owned()),
        image: image_of(app, env, container, release),
        container_port: container.container_port,
        command: container.command.clone(),
        volumes: container
            .volumes
            .iter()
            .map(|volume| {
                let (source, shared) = match &volume.source {
                    VolumeSource::Named(name) => (format!("{prefix}.{name}"), false),
                    VolumeSource::Shared(path) => (path.display().to_string(), true),
                };
                ContainerVolume {
                    source,
                    shared,
                    target: volume.target.display().to_string(),
                    read_only: volume.mode == VolumeMode::ReadOnly,
                }
            })
            .collect(),
        user: container.user.clone(),
        memory: container.memory,
        millicpus: container.millicpus,
    }
}

/// The container a service builds from a `Containerfile`, if it does.
pub(crate) fn built_container(service: Option<&hoist_core::spec::Service>) -> Option<&Container> {
    match service.map(|s| &s.workload) {
        Some(Workload::Container(container))
            if matches!(container.image, ImageSource::Build { .. }) =>
        {
            Some(container)
        }
        _ => None,
    }
}

/// Builds the `Containerfile` in the spec's directory, tagged `<repository>:pending` until a
/// release is made of it, and returns the image's id: part of what the release is, so a
/// change that reaches only the image (a file the upload leaves out) is still a new release.
pub(crate) fn build(
    spec_dir: &Path,
    app: &str,
    env: &EnvName,
    container: &Container,
) -> Result<String> {
    let ImageSource::Build {
        containerfile,
        context,
    } = &container.image
    else {
        return Err(Error::internal("the service's image is pulled, not built"));
    };
    let engine = container_engine::engine_program(container.engine.map(|e| e.as_str()))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id_path =
        std::env::temp_dir().join(format!("hoist-image-id-{}-{nanos}", std::process::id()));
    let run_build = || {
        container_engine::engine_command(&engine)
            .current_dir(spec_dir)
            .arg("build")
            .arg(format!("--file={}", containerfile.display()))
            .arg(format!("--tag={}:pending", built_repository(app, env)))
            // What lets untagged builds of this environment be pruned, and no one else's.
            .arg(format!("--label={IMAGE_LABEL}={app}/{env}"))
            .arg(format!("--iidfile={}", id_path.display()))
            .arg("--")
            .arg(context)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::failed(format!("cannot run `{}`", engine.display())).cause(e))
    };
    let mut attempts = 1;
    let mut output = run_build()?;
    while !output.status.success() && attempts < BUILD_ATTEMPTS && lost_a_race(&output) {
        attempts += 1;
        output = run_build()?;
    }
    if !output.status.success() {
        let _ = std::fs::remove_file(&id_path);
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        return Err(
            Error::failed(format!("building `{}` failed", containerfile.display()))
                .cause(crate::ops::run::hooks::tail(&text, 20))
                .hint(format!(
                    "run `{} build -f {} {}` in the spec's directory to see why",
                    engine.display(),
                    containerfile.display(),
                    context.display()
                )),
        );
    }
    let id = std::fs::read_to_string(&id_path).map_err(|e| Error::io("read", &id_path, e));
    let _ = std::fs::remove_file(&id_path);
    Ok(id?.trim().to_owned())
}

/// How many times a build that lost a race with the engine's storage is run.
const BUILD_ATTEMPTS: u32 = 3;

/// Whether a failed build lost a race with another command removing images from the same
/// storage (a deploy's prune, a user's `rmi`): buildah's cache lookup fails with "layer not
/// known" when an image it listed is removed before it looks at it (buildah#5674, fixed in
/// buildah 1.43). The same build run again finds the storage settled.
fn lost_a_race(output: &std::process::Output) -> bool {
    mentions_a_vanished_layer(&String::from_utf8_lossy(&output.stderr))
        || mentions_a_vanished_layer(&String::from_utf8_lossy(&output.stdout))
}

fn mentions_a_vanished_layer(text: &str) -> bool {
    text.lines().any(|line| {
        line.contains("layer not known")
            && (line.contains("cached image") || line.contains("committing"))
    })
}

/// Tags the built image `id` for `release`; returns the tag.
pub(crate) fn tag_release(
    app: &str,
    env: &EnvName,
    container: &Container,
    id: &str,
    release: &ReleaseId,
) -> Result<String> {
    let engine = container_engine::engine_program(container.engine.map(|e| e.as_str()))?;
    let tag = image_of(app, env, container, release);
    let output = container_engine::engine_command(&engine)
        .args(["tag", id, &tag])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::failed(format!("cannot run `{}`", engine.display())).cause(e))?;
    if !output.status.success() {
        return Err(
            Error::failed(format!("cannot tag the built image as `{tag}`"))
                .cause(String::from_utf8_lossy(&output.stderr).trim().to_owned())
                .hint("deploy again: the image is built anew"),
        );
    }
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::mentions_a_vanished_layer;

    #[test]
    fn a_layer_removed_under_the_cache_lookup_is_a_race_and_a_broken_containerfile_is_not() {
        assert!(mentions_a_vanished_layer(
            "STEP 6/6: LABEL x=y\nError: checking if cached image exists from a previous build: \
             getting top layer info: layer not known\n"
        ));
        assert!(mentions_a_vanished_layer(
            "Error: committing container for step {}: copying layers and metadata: \
             committing the finished image: creating image \"41\": layer not known"
        ));
        assert!(!mentions_a_vanished_layer(
            "STEP 2/2: RUN false\nError: building at STEP \"RUN false\": exit status 1"
        ));
        assert!(!mentions_a_vanished_layer(
            "COPY layer not known.txt /app/\nError: no such file"
        ));
    }
}

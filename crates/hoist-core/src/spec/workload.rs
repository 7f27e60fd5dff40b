//! What a service runs: a process (the default), a container from an image or a
//! Containerfile, a compose stack, or a static site served by the proxy. Each kind is read
//! and validated in `parse::read_service`; this file holds only the types and the names an
//! engine sees, which are built here so nothing user-written can reach an engine as a flag.

use std::path::PathBuf;

/// `[service] runtime = …` and the keys that go with each kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workload {
    /// `command`, started with `sh -c` in the release directory.
    Process { command: String },
    /// `runtime = "container"`.
    Container(Container),
    /// `compose = "compose.yml"`: a stack, recreate only.
    Compose(Compose),
    /// `static = "public"`: no process; the built-in proxy serves this directory of the live
    /// release.
    Static { dir: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub image: ImageSource,
    /// `engine`: none means whichever the host has (podman first, then docker).
    pub engine: Option<Engine>,
    /// `container_port`: where the app listens inside the container (`$PORT` is set to it).
    pub container_port: u16,
    /// `command = ["arg", …]`: replaces the image's command; argv, never a shell line.
    pub command: Option<Vec<String>>,
    pub volumes: Vec<Volume>,
    /// `user = "1000:1000"` or a name: who the container's process runs as.
    pub user: Option<String>,
    /// `memory = "512MB"`: the container's memory limit, in bytes.
    pub memory: Option<u64>,
    /// `cpus = 1.5`: in thousandths of a CPU (1500), so the spec stays `Eq`.
    pub millicpus: Option<u32>,
}

/// Where the image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// `image = "registry.example.com/app:1.2"`: the hosts pull it.
    Pull(String),
    /// `[build] containerfile = "Containerfile"` (relative to the spec's directory), built on
    /// the controller with `context` (default: the spec's directory), tagged with the release
    /// id and shipped to the hosts over SSH.
    Build {
        containerfile: PathBuf,
        context: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Podman,
    Docker,
}

impl Engine {
    /// The program's name, which is also how the spec writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Podman => "podman",
            Self::Docker => "docker",
        }
    }
}

/// One of `volumes = ["data:/var/lib/app", "shared/uploads:/app/uploads:ro"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub source: VolumeSource,
    /// Absolute path inside the container.
    pub target: PathBuf,
    pub mode: VolumeMode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// A named volume, created by the engine as `hoist-<app>-<env>.<name>`, so environments never
    /// share one by accident.
    Named(String),
    /// `shared/…`: a directory under the deploy root's `shared/`, bind-mounted.
    Shared(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeMode {
    /// The container may write (the default). Blue-green refuses it: two copies would.
    Writable,
    /// `:ro`.
    ReadOnly,
    /// `:shared`: writable, and the app is known to cope with two copies writing at once.
    SharedSafe,
}

impl Volume {
    /// Whether two copies running at once (blue-green) could both write it unsafely.
    pub fn blocks_blue_green(&self) -> bool {
        self.mode == VolumeMode::Writable
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compose {
    /// The compose file, relative to the release directory.
    pub file: PathBuf,
    /// `engine` as for containers.
    pub engine: Option<Engine>,
}

impl Workload {
    /// The shell command of a process service.
    pub fn process_command(&self) -> Option<&str> {
        match self {
            Self::Process { command } => Some(command),
            _ => None,
        }
    }

    /// The spec's word for the kind, as `status` shows it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Process { .. } => "process",
            Self::Container(_) => "container",
            Self::Compose(_) => "compose",
            Self::Static { .. } => "static",
        }
    }
}

/// The name an engine knows an environment's things by (container, compose project, volume
/// prefix): `hoist-<app>-<env>`, kept to `[a-z0-9_-]` and starting with a letter, so it can
/// never be read as a flag. App and environment names are already restricted; this is the
/// last guard.
pub fn engine_name(app: &str, env: &str) -> String {
    let clean = |text: &str| -> String {
        text.chars()
            .map(|c| match c {
                'a'..='z' | '0'..='9' | '_' | '-' => c,
                'A'..='Z' => c.to_ascii_lowercase(),
                _ => '_',
            })
            .collect()
    };
    format!("hoist-{}-{}", clean(app), clean(env))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_names_cannot_start_a_flag_or_hold_odd_characters() {
        assert_eq!(engine_name("shop", "prod"), "hoist-shop-prod");
        assert_eq!(engine_name("my.app", "pr-12"), "hoist-my_app-pr-12");
        let name = engine_name("--privileged", "x y");
        assert!(name.starts_with("hoist-"), "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'),
            "{name}"
        );
    }
}

//! What a service runs: a process, a container, a compose stack or a static site — each
//! read into its `Workload` with its default strategy. Refusals: `workload_refusals`.

use std::path::PathBuf;

use super::super::{
    Compose, Container, Engine, ImageSource, Proxy, Service, Strategy, Volume, VolumeMode,
    VolumeSource, Workload,
};
use super::{MINIMAL, diagnostics, parsed, problem};

pub(super) const CONTAINER_HINT: &str = "add `runtime = \"container\"` to `[service]`";

/// `MINIMAL` with `extra` (tables) inserted before `[env.dev]`.
pub(super) fn with(extra: &str) -> String {
    MINIMAL.replace("[env.dev]", &format!("{extra}\n\n[env.dev]"))
}

/// `MINIMAL` with a `[service]` holding `port = 8080` and `lines`.
pub(super) fn with_service(lines: &str) -> String {
    with(&format!("[service]\nport = 8080\n{lines}"))
}

pub(super) fn service_of(text: &str) -> Service {
    match parsed(text).service {
        Some(service) => service,
        None => panic!("no service"),
    }
}

/// Asserts `text` is refused with `message` and `hint`, the span covering `at`.
pub(super) fn refused(text: &str, message: &str, hint: &str, at: &str) {
    let (diagnostic, spanned) = problem(text, message);
    assert_eq!(diagnostic.hint.as_deref(), Some(hint), "{message}");
    assert_eq!(spanned, at, "{message}");
}

/// The messages of everything `text` is refused for.
pub(super) fn messages(text: &str) -> Vec<String> {
    diagnostics(text).into_iter().map(|d| d.message).collect()
}

#[test]
fn a_process_is_the_default_and_keeps_recreate() {
    for lines in [
        "command = \"./server\"",
        "runtime = \"process\"\ncommand = \"./server\"",
    ] {
        let service = service_of(&with_service(lines));
        assert_eq!(
            service.workload,
            Workload::Process {
                command: "./server".into()
            }
        );
        assert_eq!(service.strategy, Strategy::Recreate);
    }
}

#[test]
fn a_container_from_an_image_reads_every_key_and_defaults_to_blue_green() {
    let service = service_of(&with_service(
        r#"runtime = "container"
image = "registry.example.com/team/app:1.2"
engine = "podman"
container_port = 3000
command = ["./server", "--port", "3000"]
volumes = ["shared/uploads:/app/uploads:ro", "cache:/cache:shared"]
user = "1000:1000"
memory = "512MB"
cpus = 1.5"#,
    ));
    assert_eq!(
        service.workload,
        Workload::Container(Container {
            image: ImageSource::Pull("registry.example.com/team/app:1.2".into()),
            engine: Some(Engine::Podman),
            container_port: 3000,
            command: Some(vec!["./server".into(), "--port".into(), "3000".into()]),
            volumes: vec![
                Volume {
                    source: VolumeSource::Shared(PathBuf::from("uploads")),
                    target: PathBuf::from("/app/uploads"),
                    mode: VolumeMode::ReadOnly,
                },
                Volume {
                    source: VolumeSource::Named("cache".into()),
                    target: PathBuf::from("/cache"),
                    mode: VolumeMode::SharedSafe,
                },
            ],
            user: Some("1000:1000".into()),
            memory: Some(512 * 1024 * 1024),
            millicpus: Some(1500),
        })
    );
    assert_eq!(service.strategy, Strategy::BlueGreen);
    assert_eq!(service.port, 8080);
    assert_eq!(service.proxy, Proxy::Builtin);
}

#[test]
fn a_container_built_from_a_containerfile_with_a_writable_volume_defaults_to_recreate() {
    let text = with(
        "[build]\ncontainerfile = \"deploy/Containerfile\"\n\n[service]\nruntime = \"container\"\nport = 80\ncontainer_port = 8080\nvolumes = [\"data:/var/lib/app\"]\ncpus = 2\nmemory = 6291456",
    );
    let service = service_of(&text);
    assert_eq!(
        service.workload,
        Workload::Container(Container {
            image: ImageSource::Build {
                containerfile: PathBuf::from("deploy/Containerfile"),
                context: PathBuf::from("."),
            },
            engine: None,
            container_port: 8080,
            command: None,
            volumes: vec![Volume {
                source: VolumeSource::Named("data".into()),
                target: PathBuf::from("/var/lib/app"),
                mode: VolumeMode::Writable,
            }],
            user: None,
            memory: Some(6 * 1024 * 1024),
            millicpus: Some(2000),
        })
    );
    assert_eq!(service.strategy, Strategy::Recreate);

    let text = with(
        "[build]\ncontainerfile = \"Containerfile\"\ncontext = \"app\"\n\n[service]\nruntime = \"container\"\nport = 80\ncontainer_port = 8080\nstrategy = \"recreate\"",
    );
    let service = service_of(&text);
    let Workload::Container(container) = &service.workload else {
        panic!("not a container: {:?}", service.workload);
    };
    assert_eq!(
        container.image,
        ImageSource::Build {
            containerfile: PathBuf::from("Containerfile"),
            context: PathBuf::from("app"),
        }
    );
    assert_eq!(service.strategy, Strategy::Recreate);
}

#[test]
fn cpus_round_to_thousandths() {
    for (written, millicpus) in [
        ("0.001", 1),
        ("0.0015", 2),
        ("1024", 1_024_000),
        ("0.25", 250),
    ] {
        let text = with_service(&format!(
            "runtime = \"container\"\nimage = \"app\"\ncontainer_port = 1\ncpus = {written}"
        ));
        let Workload::Container(container) = service_of(&text).workload else {
            panic!("not a container");
        };
        assert_eq!(container.millicpus, Some(millicpus), "{written}");
    }
}

#[test]
fn a_compose_stack_and_a_static_site_default_to_recreate() {
    let service = service_of(&with_service(
        "compose = \"deploy/compose.yml\"\nengine = \"docker\"",
    ));
    assert_eq!(
        service.workload,
        Workload::Compose(Compose {
            file: PathBuf::from("deploy/compose.yml"),
            engine: Some(Engine::Docker),
        })
    );
    assert_eq!(service.strategy, Strategy::Recreate);

    for (dir, strategy) in [("public", ""), (".", "strategy = \"recreate\"")] {
        let service = service_of(&with_service(&format!("static = \"{dir}\"\n{strategy}")));
        assert_eq!(
            service.workload,
            Workload::Static {
                dir: PathBuf::from(dir)
            }
        );
        assert_eq!(service.strategy, Strategy::Recreate);
        assert_eq!(service.health, None);
        assert_eq!(service.proxy, Proxy::Builtin);
    }
    // `proxy = "builtin"` is what serves it anyway.
    service_of(&with_service("static = \"public\"\nproxy = \"builtin\""));
}

#[test]
fn explicit_strategies_a_kind_can_honour_are_kept() {
    let container = "runtime = \"container\"\nimage = \"app\"\ncontainer_port = 1";
    for (lines, strategy) in [
        (
            format!("{container}\nvolumes = [\"data:/d\"]\nstrategy = \"recreate\""),
            Strategy::Recreate,
        ),
        (
            format!(
                "{container}\nvolumes = [\"data:/d:ro\", \"shared/x:/x:shared\"]\nstrategy = \"blue-green\""
            ),
            Strategy::BlueGreen,
        ),
        (
            format!("{container}\nstrategy = \"recreate\""),
            Strategy::Recreate,
        ),
        (
            "compose = \"compose.yml\"\nstrategy = \"recreate\"".to_owned(),
            Strategy::Recreate,
        ),
    ] {
        assert_eq!(
            service_of(&with_service(&lines)).strategy,
            strategy,
            "{lines}"
        );
    }
}

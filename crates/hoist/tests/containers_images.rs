//! Container images with real podman: built images pruned with their releases (a rollback
//! starts the kept one, `destroy` untags the rest), and an image from a registry of the
//! test's own pulled by the host when the release is made.

use std::process::Command;

use crate::blue_green::assert_converged;
use crate::containers::{
    API_TOKEN, CONTAINER_SPEC, app_name, container_spec, container_test, containers_of, deploy,
};
use crate::harness::Test;
use crate::test_registry::TestRegistry;

/// The env's built image tags, as podman lists them.
fn images_of_env(t: &Test) -> impl Fn() -> Vec<String> {
    let prefix = format!("localhost/hoist/{}/dev:", app_name(t));
    move || {
        let output = Command::new("podman")
            .args(["images", "--format={{.Repository}}:{{.Tag}}"])
            .output()
            .expect("podman images");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| line.starts_with(&prefix))
            .map(str::to_owned)
            .collect()
    }
}

#[test]
fn images_are_pruned_with_their_releases_and_a_rollback_starts_the_kept_one() {
    let t = container_test();
    let images = images_of_env(&t);
    let mut releases = Vec::new();
    for version in ["v1", "v2", "v3", "v4"] {
        t.write("message.txt", &format!("{version}\n"));
        deploy(&t).success();
        releases.push(t.live().unwrap());
    }
    // keep_releases = 3: the first release and its image are gone.
    let kept = images();
    let app = app_name(&t);
    let tag = |release: &String| format!("localhost/hoist/{app}/dev:{release}");
    assert!(!kept.contains(&tag(&releases[0])), "{kept:?}");
    for release in &releases[1..] {
        assert!(kept.contains(&tag(release)), "{release} in {kept:?}");
    }

    t.hoist(&["rollback", "dev"]).success();
    assert_eq!(t.body().trim(), "v3");
    assert_converged(&t, &releases[2]);

    let id = std::fs::read_to_string(t.root.join(".hoist/root-id")).unwrap();
    assert_eq!(containers_of(&t.root).len(), 1);
    t.hoist(&["destroy", "dev", "--yes"]).success();
    let left: Vec<String> = images()
        .into_iter()
        .filter(|image| releases.iter().any(|release| image == &tag(release)))
        .collect();
    assert_eq!(left, Vec::<String>::new());
    // Nor the builds left untagged along the way.
    let labelled = Command::new("podman")
        .args([
            "images",
            "--all",
            "--quiet",
            &format!("--filter=label=hoist.image={app}/dev"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&labelled.stdout).trim(), "");
    let output = Command::new("podman")
        .args([
            "ps",
            "--all",
            &format!("--filter=label=hoist.root={}", id.trim()),
            "--format={{.Names}}",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "");
}

#[test]
fn an_image_from_a_registry_is_pulled_by_the_host_and_run() {
    let registry = TestRegistry::start(None);
    // The app's image, built here once and known to the engine only by its registry name
    // after the copy: the host must pull it.
    let t = container_test();
    let local = format!("localhost/hoist-test/pulled-{}:1", t.port);
    let built = Command::new("podman")
        .args(["build", "--quiet", "--tag", &local])
        .arg(&t.project)
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let reference = registry.push(&local, &format!("boxed-{}:1", t.port));
    Command::new("podman")
        .args(["rmi", &local])
        .output()
        .unwrap();

    let spec = container_spec(&t)
        .replace("[build]\ncontainerfile = \"Containerfile\"\n", "")
        .replace(
            "runtime = \"container\"",
            &format!("runtime = \"container\"\nimage = \"{reference}\""),
        );
    let t = t.spec(&spec);
    let conf = registry.registries_conf();
    t.hoist_with(
        &["deploy", "dev"],
        &[
            ("API_TOKEN", API_TOKEN),
            ("CONTAINERS_REGISTRIES_CONF", &conf),
        ],
    )
    .success();
    assert_eq!(t.body().trim(), "v1");
    let live = t.live().unwrap();
    assert_converged(&t, &live);
    // A pulled image belongs to its registry: destroy leaves it.
    t.hoist(&["destroy", "dev", "--yes"]).success();
    let listed = Command::new("podman")
        .args(["image", "exists", &reference])
        .status()
        .unwrap();
    assert!(listed.success(), "{reference} was removed");
    Command::new("podman")
        .args(["rmi", &reference])
        .output()
        .unwrap();
}

#[test]
fn limits_a_command_and_a_named_volume_reach_the_container_which_recreate_keeps() {
    let spec = CONTAINER_SPEC.replace("name = \"boxed\"", "name = \"boxed-vol\"").replace(
        "container_port = 8080",
        "container_port = 8080\ncommand = [\"/bin/sh\", \"/app/serve.sh\", \"limits\"]\nmemory = \"64MB\"\ncpus = 0.5\nvolumes = [\"data:/data\"]",
    );
    let t = container_test().spec(&spec);
    t.write(
        "serve.sh",
        r#"#!/bin/sh
trap 'exit 0' TERM INT
mkdir -p /www
cp /app/message.txt /www/index.html
echo ok > /www/health
echo "$1" > /www/args
cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /www/memory 2>/dev/null || cat /sys/fs/cgroup/memory.max > /www/memory
cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us > /www/cpu 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max > /www/cpu
cat /app/message.txt >> /data/history
cp /data/history /www/history
httpd -f -p "$PORT" -h /www &
wait
"#,
    );
    let volume = "hoist-boxed-vol-dev.data";
    // Left by an earlier run that failed before its destroy.
    Command::new("podman")
        .args(["volume", "rm", "--force", volume])
        .output()
        .unwrap();
    deploy(&t).success();
    let get = |path: &str| t.get(path).unwrap().1.trim().to_owned();
    assert_eq!(get("/args"), "limits", "the command replaced the image's");
    assert_eq!(get("/memory"), (64 * 1024 * 1024).to_string());
    assert_eq!(get("/cpu"), "50000", "half of a 100 ms period");
    // A writable volume: the container is replaced, never run twice at once.
    assert!(
        t.root.join("run/instance.json").is_file(),
        "recreate's single slot"
    );
    assert!(!t.root.join("run/instance-blue.json").exists());

    t.write("message.txt", "v2\n");
    deploy(&t).success();
    assert_eq!(
        get("/history"),
        "v1\nv2",
        "the volume outlived the first container"
    );

    let exists = || {
        Command::new("podman")
            .args(["volume", "exists", volume])
            .status()
            .unwrap()
            .success()
    };
    assert!(exists());
    t.hoist(&["destroy", "dev", "--yes", "--volumes"]).success();
    assert!(!exists(), "destroy --volumes removes {volume}");
}

#[test]
fn a_change_only_the_image_sees_is_a_new_release_and_no_change_is_none() {
    // message.txt goes into the image but not into the upload.
    let t = container_test();
    let spec = container_spec(&t).replace(
        "containerfile = \"Containerfile\"",
        "containerfile = \"Containerfile\"\nexclude = [\"message.txt\"]",
    );
    let t = t.spec(&spec);
    deploy(&t).success();
    let first = t.live().unwrap();
    assert_eq!(t.body().trim(), "v1");

    let again = deploy(&t).success();
    assert_eq!(
        t.live().unwrap(),
        first,
        "an unchanged image is no new release: {again:?}"
    );

    t.write("message.txt", "v2\n");
    deploy(&t).success();
    let second = t.live().unwrap();
    assert_ne!(second, first, "the image changed: a new release");
    assert_eq!(t.body().trim(), "v2");
    assert_converged(&t, &second);
}

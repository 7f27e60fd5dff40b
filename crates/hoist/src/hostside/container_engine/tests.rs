use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::ports::runtime::ContainerVolume;

fn launch() -> ContainerLaunch {
    ContainerLaunch {
        engine: Some("podman".into()),
        image: "localhost/hoist/app/dev:r1".into(),
        container_port: 8080,
        command: Some(vec!["--port".into(), "8080".into()]),
        volumes: vec![
            ContainerVolume {
                source: "hoist-app-dev.data".into(),
                shared: false,
                target: "/data".into(),
                read_only: false,
            },
            ContainerVolume {
                source: "uploads".into(),
                shared: true,
                target: "/app/uploads".into(),
                read_only: true,
            },
        ],
        user: Some("1000:1000".into()),
        memory: Some(64 * 1024 * 1024),
        millicpus: Some(1500),
    }
}

#[test]
fn every_option_is_one_word_with_its_value_and_secrets_stay_in_the_env_file() {
    let root = tempfile::tempdir().unwrap();
    let variables = vec![("API_TOKEN".to_owned(), "s3cr3t-value".to_owned())];
    let command = run_command(root.path(), Slot::Blue, "r1", 41000, &launch(), &variables).unwrap();
    let args: Vec<String> = command
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let image_at = args
        .iter()
        .position(|a| a == "localhost/hoist/app/dev:r1")
        .unwrap();
    for arg in &args[1..image_at] {
        assert!(arg.starts_with("--"), "{arg} before the image is an option");
    }
    assert_eq!(
        args[image_at + 1..],
        ["--port", "8080"],
        "argv after the image"
    );
    for expected in [
        "--publish=127.0.0.1:41000:8080",
        "--user=1000:1000",
        "--memory=67108864b",
        "--cpus=1.500",
        "--volume=hoist-app-dev.data:/data",
        "--pull=never",
    ] {
        assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
    }
    let shared = root.path().join("shared/uploads");
    assert!(
        shared.is_dir(),
        "the bind mount's source is made under shared/"
    );
    assert!(
        args.iter()
            .any(|a| *a == format!("--volume={}:/app/uploads:ro", shared.display()))
    );
    assert!(!args.iter().any(|a| a.contains("s3cr3t")), "{args:?}");
    let env_file = root.path().join("run/container-blue.env");
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        "API_TOKEN=s3cr3t-value\n"
    );
    let mode = std::fs::metadata(&env_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_value_with_a_line_break_is_refused_by_name_not_by_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.env");
    let error = write_env_file(&path, &[("CERT".into(), "line one\nline two".into())])
        .unwrap_err()
        .to_string();
    assert!(error.contains("`CERT`"), "{error}");
    assert!(!error.contains("line one"), "{error}");
    assert!(!path.exists());
}

#[test]
fn container_names_are_per_root_and_slot() {
    assert_eq!(
        container_name("0123abcd", Slot::Green),
        "hoist-0123abcd-green"
    );
    assert_ne!(
        container_name("0123abcd", Slot::Blue),
        container_name("0123abcd", Slot::Green)
    );
}

#[test]
fn the_engine_path_adds_the_sbin_directories_cron_leaves_out() {
    let path = engine_path();
    let dirs: Vec<_> = std::env::split_paths(&path).collect();
    assert!(dirs.iter().any(|d| d == Path::new("/usr/sbin")), "{dirs:?}");
    assert!(dirs.iter().any(|d| d == Path::new("/sbin")), "{dirs:?}");
}

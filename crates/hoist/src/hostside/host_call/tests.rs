use std::fs;

use hoist_core::ReleaseStatus;
use hoist_core::spec::Build;

use super::*;
use crate::error::ErrorKind;
use crate::ports::host::ConfigFile;
use crate::ports::host::{
    HostFacts, HostReleases, LockHolder, LockOutcome, ReleaseInfo, UploadReport,
};
use crate::ports::router::RouteConfig;
use crate::source_tree::SourceTree;

fn id(n: u32) -> ReleaseId {
    format!("20261121T{n:06}Z-0000abcd").parse().unwrap()
}

fn holder() -> LockHolder {
    LockHolder {
        owner: "alice@ci".into(),
        pid: std::process::id(),
        machine: "ci".into(),
        started_at: "2026-11-21T00:00:00Z".into(),
        message: "hoist deploy prod".into(),
        command_id: Some(7),
    }
}

fn health() -> WireHealth {
    WireHealth {
        check: WireHealthCheck::Http {
            path: "/health".into(),
            expect_low: 200,
            expect_high: 399,
            body_contains: Some("ok".into()),
            host: None,
        },
        interval_ms: 10,
        timeout_ms: 100,
        deadline_ms: 50,
        successes: 1,
        initial_delay_ms: 0,
    }
}

fn new_release(n: u32) -> WireNewRelease {
    WireNewRelease {
        info: ReleaseInfo {
            id: id(n),
            status: ReleaseStatus::Uploading,
            content_hash: "c".into(),
            config_hash: "k".into(),
            created_at: "2026-11-21T00:00:00Z".into(),
            created_by: "alice".into(),
            source_rev: None,
            config_snapshot: serde_json::json!({"vars": {"A": "1"}}),
            error: None,
            config_kept: false,
        },
        shared_dirs: vec![PathBuf::from("storage")],
    }
}

fn every_request() -> Vec<HostRequest> {
    use HostRequest as R;
    vec![
        R::Version,
        R::Provision { adopt: true },
        R::Lock {
            holder: holder(),
            adopt: true,
        },
        R::Unlock { holder: holder() },
        R::WriteConfig {
            files: vec![
                WireConfigFile::from(&ConfigFile {
                    name: "env".into(),
                    contents: b"TOKEN=s3cret\n".to_vec(),
                }),
                WireConfigFile::from(&ConfigFile {
                    name: "key.bin".into(),
                    contents: vec![0xff, 0, 0xfe],
                }),
            ],
        },
        R::Releases,
        R::PrepareUpload {
            release: new_release(1),
            entries: Vec::new(),
        },
        R::FinishUpload {
            release: new_release(1),
            entries: Vec::new(),
        },
        R::Exec {
            dir: WireExecDir {
                release: Some(id(1)),
            },
            command: "echo hi".into(),
            env: vec![("A".into(), "b".into())],
        },
        R::MarkReady { id: id(1) },
        R::MarkFailed {
            id: id(1),
            reason: "post_upload failed".into(),
        },
        R::DiscardIncomplete,
        R::SwitchLive { id: id(1) },
        R::RemoveRelease { id: id(1) },
        R::Prune { keep: 3 },
        R::Audit {
            line: serde_json::json!({"event": "deploy"}),
        },
        R::Destroy,
        R::ImageRegistry,
        R::ImagePull {
            name: "hoist/app/dev:r1".into(),
            engine: None,
        },
        R::RemoveImages {
            images: vec!["localhost/hoist/app/dev:r1".into()],
            engine: Some("podman".into()),
        },
        R::RemoveVolumes {
            project: "hoist-app-dev".into(),
            engine: None,
        },
        R::PullImage {
            image: "registry.example/app:1".into(),
            engine: None,
        },
        R::RuntimeStart {
            spec: WireInstanceSpec {
                release: id(1),
                command: "exec app".into(),
                port: 8080,
                env: vec![("PORT".into(), "8080".into())],
                log: crate::ports::runtime::LogLimits::default(),
                container: None,
                compose: None,
            },
            slot: Slot::Blue,
        },
        R::RuntimeStop {
            grace_ms: 1500,
            slot: Slot::Green,
        },
        R::RuntimeCurrent { slot: Slot::Single },
        R::RuntimeStrays,
        R::RuntimeStopStray {
            stray: StrayProcess {
                pid: 42,
                start_ticks: 7,
                slot: Slot::Blue,
                command: "sleep".into(),
                container: None,
            },
            grace_ms: 100,
        },
        R::RouterEnsure { config: route() },
        R::RouterRoute { config: route() },
        R::RouterSetUpstream {
            config: route(),
            port: 4001,
        },
        R::RouterSetStatic {
            config: route(),
            site: "public".into(),
        },
        R::RouterDrain {
            config: route(),
            port: 4001,
            limit_ms: 500,
        },
        R::RouterMaintenance {
            config: route(),
            on: true,
        },
        R::RouterFreePort,
        R::RouterStopProxy,
        R::RuntimeLogTail {
            release: id(1),
            lines: 20,
        },
        R::ProbeWaitHealthy {
            port: 8080,
            health: health(),
            release: id(1),
            owner_group: Some(4242),
        },
        R::ProbeOnce {
            port: 8080,
            health: health(),
            release: id(1),
            owner_group: None,
        },
        R::Supervise {
            slot: Slot::Green,
            policy: crate::hostside::instance_record::RecordedPolicy {
                backoff_ms: 1000,
                backoff_max_ms: 60_000,
                crash_loop: 5,
                window_ms: 120_000,
                liveness: Some(crate::hostside::instance_record::RecordedLiveness {
                    health: health(),
                    interval_ms: 10_000,
                    failures: 3,
                }),
                stop_grace_ms: 5000,
            },
        },
        R::SupervisorEnsure,
        R::SupervisorState,
        R::SupervisorStop,
        R::BootEntryState,
        R::BootEntryInstall,
        R::BootEntryRemove,
        R::HostEvents,
        R::AckHostEvents { seq: 7 },
        R::RuntimeRelabel {
            slot: Slot::Single,
            release: id(2),
        },
        R::RuntimeStackServices { slot: Slot::Single },
        R::RuntimePortHolder { port: 8080 },
        R::ServiceLogs {
            query: crate::ports::service_logs::LogQuery {
                since: Some(jiff::Timestamp::from_second(1_800_000_000).unwrap()),
                grep: Some("GET /\\d+".to_owned()),
                lines: Some(20),
                cursor: Some(crate::ports::service_logs::LogCursor {
                    logs: vec![crate::ports::service_logs::LogPosition {
                        log: id(1).to_string(),
                        device: 2049,
                        inode: 77,
                        offset: 512,
                        last_at: None,
                    }],
                }),
                partial: true,
            },
        },
        R::ExecTarget,
    ]
}

#[test]
fn a_probe_request_from_an_older_controller_names_no_owner() {
    for op in ["probe_once", "probe_wait_healthy"] {
        let mut json = serde_json::to_value(HostRequest::ProbeOnce {
            port: 8080,
            health: health(),
            release: id(1),
            owner_group: Some(7),
        })
        .unwrap();
        json["op"] = op.into();
        json.as_object_mut().unwrap().remove("owner_group");
        let request = parse(json.to_string().as_bytes()).unwrap();
        let owner = match request {
            HostRequest::ProbeOnce { owner_group, .. }
            | HostRequest::ProbeWaitHealthy { owner_group, .. } => owner_group,
            other => panic!("{other:?}"),
        };
        assert_eq!(owner, None, "{op}");
    }
}

#[test]
fn every_request_round_trips_through_json_with_its_op() {
    let requests = every_request();
    let mut ops = Vec::new();
    for request in &requests {
        let json = serde_json::to_value(request).unwrap();
        ops.push(json["op"].as_str().unwrap().to_owned());
        let back: HostRequest = serde_json::from_value(json).unwrap();
        assert_eq!(&back, request);
    }
    assert!(ops.contains(&"prepare_upload".to_owned()));
    assert!(ops.contains(&"probe_wait_healthy".to_owned()));
    assert_eq!(ops, OPS, "each request has its own op, listed in `OPS`");
}

#[test]
fn config_contents_travel_exactly_but_never_show_in_debug() {
    let HostRequest::WriteConfig { files } = &every_request()[4] else {
        panic!("the fifth request writes config");
    };
    let json = serde_json::to_string(files).unwrap();
    assert!(json.contains("TOKEN=s3cret"), "{json}");
    let back: Vec<WireConfigFile> = serde_json::from_str(&json).unwrap();
    let back: Vec<ConfigFile> = back.into_iter().map(ConfigFile::from).collect();
    assert_eq!(back[0].contents, b"TOKEN=s3cret\n");
    assert_eq!(back[1].contents, [0xff, 0, 0xfe]);
    let debug = format!("{:?}", every_request()[4]);
    assert!(!debug.contains("s3cret"), "{debug}");
}

#[test]
fn adopt_is_sent_only_when_set_and_older_requests_still_parse() {
    let provision = serde_json::to_value(HostRequest::Provision { adopt: false }).unwrap();
    assert_eq!(provision, serde_json::json!({"op": "provision"}));
    let lock = HostRequest::Lock {
        holder: holder(),
        adopt: false,
    };
    let json = serde_json::to_value(&lock).unwrap();
    assert!(json.get("adopt").is_none(), "{json}");
    // What an older controller sends: no `adopt` at all.
    let older =
        serde_json::json!({"op": "lock", "holder": serde_json::to_value(holder()).unwrap()});
    assert_eq!(serde_json::from_value::<HostRequest>(older).unwrap(), lock);
    let adopting = serde_json::to_value(HostRequest::Provision { adopt: true }).unwrap();
    assert_eq!(
        adopting,
        serde_json::json!({"op": "provision", "adopt": true})
    );
}

#[test]
fn errors_round_trip_with_their_kind_causes_and_hints() {
    for error in [
        Error::failed("a").cause("b").hint("c"),
        Error::internal("x"),
        Error::locked("held").hint("wait"),
    ] {
        let response = HostResponse::from_result::<()>(Err(error.clone()));
        let json = serde_json::to_string(&response).unwrap();
        let back: HostResponse = serde_json::from_str(&json).unwrap();
        let back = back.into_result::<()>().unwrap_err();
        assert_eq!(
            (back.kind, back.message, back.causes, back.hints),
            (error.kind, error.message, error.causes, error.hints)
        );
    }
    let json =
        serde_json::to_value(HostResponse::from_result::<()>(Err(Error::locked("l")))).unwrap();
    assert_eq!(json["error"]["kind"], "locked");
    assert_eq!(
        serde_json::to_value(HostResponse::from_result(Ok(3))).unwrap(),
        serde_json::json!({"ok": 3})
    );
}

#[test]
fn bad_requests_are_failed_responses() {
    let dir = tempfile::tempdir().unwrap();
    let bad = [
        (&b"{not json"[..], "not JSON (line 1, column 2)"),
        (br#"{"op": "format_disk"}"#, "unknown op `format_disk`"),
        (br#"{"id": 1}"#, "names no `op`"),
        (br#"{"op": "mark_ready"}"#, "`mark_ready` request does not have"),
        (
            br#"{"op": "write_config", "files": [{"name": "env", "contents": {"bytes": "s3cret"}}]}"#,
            "`write_config` request does not have",
        ),
    ];
    for (input, why) in bad {
        let error = handle(dir.path(), input).into_result::<()>().unwrap_err();
        assert_eq!(error.kind, ErrorKind::Failed, "{error}");
        assert!(error.message.contains("cannot read the request"), "{error}");
        assert!(error.causes[0].contains(why), "{error}");
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
    let relative = dispatch(
        Path::new("relative/root"),
        HostRequest::Provision { adopt: false },
    );
    let error = relative.into_result::<HostFacts>().unwrap_err();
    assert!(error.message.contains("not an absolute path"), "{error}");
}

fn call<T: serde::de::DeserializeOwned>(root: &Path, request: HostRequest) -> Result<T> {
    let input = serde_json::to_vec(&request).unwrap();
    let output = serde_json::to_vec(&handle(root, &input)).unwrap();
    serde_json::from_slice::<HostResponse>(&output)
        .unwrap()
        .into_result()
}

#[test]
fn dispatch_runs_host_operations_on_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("deploy");
    let version: HostVersion = call(&root, HostRequest::Version).unwrap();
    assert_eq!(version.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(version.arch, std::env::consts::ARCH);
    assert_eq!(version.binary_hash.unwrap().len(), 64);
    let facts: HostFacts = call(&root, HostRequest::Provision { adopt: false }).unwrap();
    assert!(facts.tools.contains_key("rsync"));
    assert!(root.join("releases").is_dir());

    let outcome: WireLockOutcome = call(
        &root,
        HostRequest::Lock {
            holder: holder(),
            adopt: false,
        },
    )
    .unwrap();
    assert_eq!(LockOutcome::from(outcome), LockOutcome::Acquired);
    let mut other = holder();
    other.pid = 1;
    let outcome: WireLockOutcome = call(
        &root,
        HostRequest::Lock {
            holder: other,
            adopt: false,
        },
    )
    .unwrap();
    assert!(matches!(
        LockOutcome::from(outcome),
        LockOutcome::Held { .. }
    ));
    call::<()>(&root, HostRequest::Unlock { holder: holder() }).unwrap();

    let files = vec![WireConfigFile::from(&ConfigFile {
        name: "env".into(),
        contents: b"TOKEN=s3cret\n".to_vec(),
    })];
    call::<()>(&root, HostRequest::WriteConfig { files }).unwrap();
    assert_eq!(
        fs::read(root.join("config/env")).unwrap(),
        b"TOKEN=s3cret\n"
    );

    let source = dir.path().join("app");
    fs::create_dir(&source).unwrap();
    fs::write(source.join("index.html"), "v1").unwrap();
    let build = Build {
        steps: Vec::new(),
        upload: Vec::new(),
        upload_version: None,
        exclude: Vec::new(),
        pass_env: Vec::new(),
    };
    let tree = SourceTree::collect(&source, &build).unwrap();
    let prepare = HostRequest::PrepareUpload {
        release: new_release(1),
        entries: tree.entries.clone(),
    };
    let needed: Vec<String> = call(&root, prepare).unwrap();
    assert_eq!(needed, ["index.html"]);
    fs::copy(
        source.join("index.html"),
        root.join("releases")
            .join(id(1).as_str())
            .join("index.html"),
    )
    .unwrap();
    let finish = HostRequest::FinishUpload {
        release: new_release(1),
        entries: tree.entries.clone(),
    };
    let report: UploadReport = call(&root, finish).unwrap();
    assert_eq!(
        (report.files, report.written, report.bytes_written),
        (1, 1, 2)
    );
    call::<()>(&root, HostRequest::MarkReady { id: id(1) }).unwrap();
    call::<()>(&root, HostRequest::SwitchLive { id: id(1) }).unwrap();

    let releases: WireReleases = call(&root, HostRequest::Releases).unwrap();
    let releases = HostReleases::from(releases);
    let local = crate::hostside::layout::Layout::open(&root).read().unwrap();
    assert_eq!(releases, local);
    assert_eq!(releases.live, Some(id(1)));
    assert!(releases.chain.violations().is_empty());

    let exec = HostRequest::Exec {
        dir: WireExecDir {
            release: Some(id(1)),
        },
        command: "cat index.html; echo \" $A\"".into(),
        env: vec![("A".into(), "b".into())],
    };
    let output: WireExecOutput = call(&root, exec).unwrap();
    assert_eq!((output.status, output.output.as_str()), (0, "v1 b\n"));

    let error = call::<()>(&root, HostRequest::SwitchLive { id: id(9) }).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Failed);
    assert!(error.message.contains("does not exist"), "{error}");
    assert!(error.hints[0].contains("hoist releases list"), "{error}");

    let current: Option<crate::ports::runtime::InstanceState> =
        call(&root, HostRequest::RuntimeCurrent { slot: Slot::Single }).unwrap();
    assert_eq!(current, None);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let answer: WireProbeAnswer = call(
        &root,
        HostRequest::ProbeOnce {
            port,
            health: health(),
            release: id(1),
            owner_group: None,
        },
    )
    .unwrap();
    assert!(!answer.healthy, "{answer:?}");
    let report: crate::ports::probe::ProbeReport = call(
        &root,
        HostRequest::ProbeWaitHealthy {
            port,
            health: health(),
            release: id(1),
            owner_group: None,
        },
    )
    .unwrap();
    assert!(!report.healthy);
    assert!(report.attempts >= 1);

    call::<()>(&root, HostRequest::Destroy).unwrap();
    assert!(!root.exists());
}

#[test]
fn host_argv_puts_each_part_in_its_own_argument() {
    let argv = host_argv(
        Path::new("/srv/app/.hoist/bin/hoist"),
        Path::new("/srv/my app"),
        &["call"],
    )
    .unwrap();
    assert_eq!(
        argv,
        [
            "/srv/app/.hoist/bin/hoist",
            "host",
            "--root",
            "/srv/my app",
            "call"
        ]
    );
    assert_eq!(
        installed_binary(Path::new("/srv/app")),
        Path::new("/srv/app/.hoist/bin/hoist")
    );
}

fn route() -> RouteConfig {
    RouteConfig::Builtin {
        listen: "0.0.0.0:8080".parse().unwrap(),
        drain_ms: 1000,
        health_paths: vec!["/health".into()],
    }
}

#[test]
fn a_request_from_an_older_controller_without_a_slot_means_the_single_instance() {
    let request: HostRequest =
        serde_json::from_str(r#"{"op":"runtime_stop","grace_ms":10}"#).unwrap();
    assert_eq!(
        request,
        HostRequest::RuntimeStop {
            grace_ms: 10,
            slot: Slot::Single
        }
    );
}

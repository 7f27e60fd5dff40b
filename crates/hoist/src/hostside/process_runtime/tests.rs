use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hoist_core::ReleaseId;
use hoist_core::spec::{Health, HealthCheck, StatusRange};

use super::*;
use crate::hostside::http_probe::HttpProbe;
use crate::ports::probe::Probe;

const RELEASE: &str = "20261121T235959Z-3f2a9c1d";

struct Root {
    dir: tempfile::TempDir,
    runtime: ProcessRuntime,
    release: ReleaseId,
}

impl Root {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("releases").join(RELEASE)).unwrap();
        let runtime = ProcessRuntime::new(dir.path());
        Root {
            dir,
            runtime,
            release: RELEASE.parse().unwrap(),
        }
    }

    fn release_dir(&self) -> PathBuf {
        self.dir.path().join("releases").join(RELEASE)
    }

    fn spec(&self, command: &str) -> InstanceSpec {
        InstanceSpec {
            release: self.release.clone(),
            command: command.to_owned(),
            port: 18080,
            env: vec![("FROM_SPEC".to_owned(), "spec value".to_owned())],
            log: crate::ports::runtime::LogLimits::default(),
            container: None,
            compose: None,
        }
    }

    fn write_config_env(&self, text: &str) {
        fs::create_dir_all(self.dir.path().join("config")).unwrap();
        fs::write(self.dir.path().join("config").join("env"), text).unwrap();
    }

    fn log(&self) -> String {
        self.runtime.log_tail(&self.release, 1_000).unwrap()
    }

    /// Waits for a file the instance writes into its release directory.
    fn wait_for_file(&self, name: &str) -> String {
        let path = self.release_dir().join(name);
        let started = Instant::now();
        loop {
            if let Ok(text) = fs::read_to_string(&path)
                && text.ends_with('\n')
            {
                return text.trim().to_owned();
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no {name}");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Root {
    /// A failed test must not leave its instance running.
    fn drop(&mut self) {
        let _ = self.runtime.stop(Slot::Single, Duration::ZERO);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn starts_records_and_stops_an_instance() {
    let root = Root::new();
    root.write_config_env("FROM_CONFIG='configured value'\nFROM_SPEC=overridden by the spec\n");
    let command = "echo \"port=$PORT release=$HOIST_RELEASE config=$FROM_CONFIG spec=$FROM_SPEC \
                   cwd=$(pwd)\"; env > env.txt; echo >> env.txt; exec sleep 100";
    let instance = root
        .runtime
        .start(Slot::Single, &root.spec(command))
        .unwrap();
    assert_eq!(instance.release, root.release);
    assert_eq!(instance.port, 18080);
    assert!(instance.started_at.parse::<jiff::Timestamp>().is_ok());

    let state = root.runtime.current(Slot::Single).unwrap().unwrap();
    assert!(state.alive);
    assert_eq!(state.instance, instance);
    let stat = proc_identity::read(instance.pid).unwrap();
    assert_eq!(stat.process_group, instance.pid, "leads its own group");
    assert_eq!(stat.start_ticks, instance.start_ticks);

    let environment = root.wait_for_file("env.txt");
    assert!(environment.contains("FROM_CONFIG=configured value"));
    assert!(environment.contains("PATH="));
    assert!(
        !environment.contains("CARGO_"),
        "inherited too much:\n{environment}"
    );
    let log = root.log();
    let expected = format!(
        "port=18080 release={RELEASE} config=configured value spec=spec value cwd={}",
        root.release_dir().display()
    );
    assert!(log.contains(&expected), "{log}");
    assert!(
        log.lines()
            .next()
            .is_some_and(|line| line.contains("\thoist\tstarting release")),
        "{log}"
    );

    let refusal = root
        .runtime
        .start(Slot::Single, &root.spec("sleep 1"))
        .unwrap_err();
    assert!(refusal.message.contains("still running"), "{refusal}");
    assert!(refusal.message.contains(&instance.pid.to_string()));

    let stopped = root
        .runtime
        .stop(Slot::Single, Duration::from_secs(5))
        .unwrap();
    assert_eq!(stopped, Some(instance.clone()));
    assert!(!proc_identity::is_running(instance.pid));
    assert_eq!(root.runtime.current(Slot::Single).unwrap(), None);
    assert_eq!(
        root.runtime
            .stop(Slot::Single, Duration::from_secs(1))
            .unwrap(),
        None
    );
}

#[test]
fn an_instance_ignoring_sigterm_is_killed_after_the_grace() {
    let root = Root::new();
    let instance = root
        .runtime
        .start(
            Slot::Single,
            &root.spec("trap '' TERM; echo ready > ready; sleep 100"),
        )
        .unwrap();
    root.wait_for_file("ready");
    let started = Instant::now();
    let stopped = root
        .runtime
        .stop(Slot::Single, Duration::from_millis(300))
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(stopped.map(|i| i.pid), Some(instance.pid));
    assert!(proc_identity::group_members(instance.pid).is_empty());
}

#[test]
fn a_reused_pid_is_never_signalled() {
    let root = Root::new();
    // Leading its own group, like any shell job: only the start time tells it apart.
    let mut unrelated = Command::new("sleep")
        .arg("5")
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = unrelated.id();
    let stat = proc_identity::read(pid).unwrap();
    let record = Instance {
        release: root.release.clone(),
        pid,
        start_ticks: stat.start_ticks + 1,
        port: 18080,
        started_at: "2026-11-21T23:59:59Z".to_owned(),
        log: "unused".to_owned(),
    };
    let record = InstanceRecord {
        instance: record,
        launch: None,
        supervision: None,
        stopping: false,
    };
    root.runtime.records.write(Slot::Single, &record).unwrap();
    assert!(!root.runtime.current(Slot::Single).unwrap().unwrap().alive);

    assert_eq!(
        root.runtime
            .stop(Slot::Single, Duration::from_millis(100))
            .unwrap(),
        None
    );
    thread::sleep(Duration::from_millis(100));
    assert_eq!(
        unrelated.try_wait().unwrap(),
        None,
        "the unrelated sleep died"
    );
    assert_eq!(
        root.runtime.current(Slot::Single).unwrap(),
        None,
        "record forgotten"
    );
    unrelated.kill().unwrap();
    unrelated.wait().unwrap();
}

#[test]
fn a_command_that_exits_at_once_fails_with_its_log() {
    let root = Root::new();
    let error = root
        .runtime
        .start(
            Slot::Single,
            &root.spec("echo 'cannot bind the port' >&2; exit 3"),
        )
        .unwrap_err();
    assert!(error.message.contains("exited at once"), "{error}");
    assert!(error.message.contains("exit code 3"), "{error}");
    assert!(
        error.to_string().contains("cannot bind the port"),
        "{error}"
    );
    assert_eq!(root.runtime.current(Slot::Single).unwrap(), None);
}

#[test]
fn children_of_the_instance_are_stopped_with_it() {
    let root = Root::new();
    let instance = root
        .runtime
        .start(
            Slot::Single,
            &root.spec("sleep 100 & echo $! > child.pid; wait"),
        )
        .unwrap();
    let child: u32 = root.wait_for_file("child.pid").parse().unwrap();
    assert!(proc_identity::is_running(child));
    assert_eq!(
        proc_identity::read(child).unwrap().process_group,
        instance.pid
    );
    assert!(
        root.runtime
            .stop(Slot::Single, Duration::from_secs(5))
            .unwrap()
            .is_some()
    );
    assert!(!proc_identity::is_running(child));
}

#[test]
fn leftover_children_of_a_dead_leader_are_stopped() {
    let root = Root::new();
    let instance = root
        .runtime
        .start(
            Slot::Single,
            &root.spec("sleep 100 & echo $! > child.pid; sleep 0.3"),
        )
        .unwrap();
    let child: u32 = root.wait_for_file("child.pid").parse().unwrap();
    let started = Instant::now();
    while root.runtime.current(Slot::Single).unwrap().unwrap().alive {
        assert!(started.elapsed() < Duration::from_secs(5));
        thread::sleep(Duration::from_millis(20));
    }
    assert!(proc_identity::is_running(child));
    assert_eq!(
        root.runtime
            .stop(Slot::Single, Duration::from_secs(5))
            .unwrap(),
        Some(instance)
    );
    assert!(!proc_identity::is_running(child));
}

#[test]
fn refuses_a_release_without_a_directory() {
    let root = Root::new();
    fs::remove_dir(root.release_dir()).unwrap();
    let error = root
        .runtime
        .start(Slot::Single, &root.spec("sleep 1"))
        .unwrap_err();
    assert!(error.message.contains("has no directory"), "{error}");
}

#[test]
fn a_broken_config_env_names_the_line() {
    let root = Root::new();
    root.write_config_env("GOOD=1\nBAD LINE\n");
    let error = root
        .runtime
        .start(Slot::Single, &root.spec("sleep 1"))
        .unwrap_err();
    assert!(error.to_string().contains("line 2"), "{error}");
}

fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

#[test]
fn runs_the_hello_example_until_stopped() {
    let root = Root::new();
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello/app.py");
    fs::copy(app, root.release_dir().join("app.py")).unwrap();
    fs::write(root.release_dir().join("message.txt"), "from the test\n").unwrap();
    root.write_config_env("GREETING='howdy'\nSECRET_TOKEN='s3cr3t-value'\n");
    let port = free_port();
    let spec = InstanceSpec {
        port,
        ..root.spec("exec python3 app.py")
    };
    let instance = root.runtime.start(Slot::Single, &spec).unwrap();

    let health = Health {
        check: HealthCheck::Http {
            path: "/health".to_owned(),
            expect: StatusRange::new(200, 200).unwrap(),
            body_contains: None,
            host: None,
        },
        interval: Duration::from_millis(50),
        timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(10),
        successes: 2,
        initial_delay: Duration::ZERO,
    };
    let probe = HttpProbe::new(root.dir.path());
    let report = probe.wait_healthy(port, &health, &root.release, Some(instance.pid));
    assert!(report.healthy, "{report:?}\n{}", root.log());
    assert_eq!(report.last_answers.last().unwrap(), "200 OK");
    assert_eq!(
        get(port, "/"),
        (200, format!("howdy from {RELEASE}: from the test\n"))
    );

    fs::write(root.release_dir().join("unhealthy"), "").unwrap();
    assert_eq!(
        probe.probe_once(port, &health, &root.release, Some(instance.pid)),
        Err("503 Service Unavailable".to_owned())
    );

    let stopped = root
        .runtime
        .stop(Slot::Single, Duration::from_secs(5))
        .unwrap();
    assert_eq!(stopped.map(|i| i.pid), Some(instance.pid));
    let log = root.log();
    assert!(log.contains("GET /health"), "{log}");
    assert!(log.contains("shutting down"), "{log}");
    assert!(!log.contains("s3cr3t-value"), "{log}");
}

#[test]
fn two_slots_run_side_by_side() {
    let root = Root::new();
    let runtime = &root.runtime;
    let first = runtime
        .start(Slot::Blue, &root.spec("exec sleep 100"))
        .unwrap();
    let second = runtime
        .start(Slot::Green, &root.spec("exec sleep 100"))
        .unwrap();
    assert!(root.dir.path().join("run/instance-blue.json").is_file());
    assert!(root.dir.path().join("run/instance-green.json").is_file());
    assert_eq!(
        runtime.current(Slot::Single).unwrap(),
        None,
        "the single record"
    );
    assert_eq!(
        runtime.strays().unwrap(),
        [],
        "both are owned by their records"
    );

    assert_eq!(
        runtime.stop(Slot::Blue, Duration::from_secs(5)).unwrap(),
        Some(first)
    );
    assert!(runtime.current(Slot::Green).unwrap().unwrap().alive);
    assert_eq!(
        runtime.stop(Slot::Green, Duration::from_secs(5)).unwrap(),
        Some(second)
    );
}

#[test]
fn an_instance_whose_record_is_gone_is_a_stray_until_stopped() {
    let root = Root::new();
    let runtime = &root.runtime;
    let instance = runtime
        .start(Slot::Green, &root.spec("sleep 100 & wait"))
        .unwrap();
    let other_root = Root::new();
    other_root
        .runtime
        .start(Slot::Green, &other_root.spec("exec sleep 100"))
        .unwrap();
    fs::remove_file(root.dir.path().join("run/instance-green.json")).unwrap();

    let strays = runtime.strays().unwrap();
    assert_eq!(
        strays.len(),
        1,
        "one per process group, not the other root's: {strays:?}"
    );
    assert_eq!(strays[0].pid, instance.pid);
    assert_eq!(strays[0].slot, Slot::Green);
    assert!(strays[0].command.contains("sleep 100"), "{strays:?}");

    assert!(
        runtime
            .stop_stray(&strays[0], Duration::from_secs(5))
            .unwrap()
    );
    assert!(proc_identity::group_members(instance.pid).is_empty());
    assert_eq!(runtime.strays().unwrap(), []);
    assert_eq!(other_root.runtime.strays().unwrap(), []);
}

#[test]
fn starting_again_stops_children_a_dead_instance_left_behind() {
    let root = Root::new();
    root.runtime
        .start(
            Slot::Single,
            &root.spec("sleep 100 & echo $! > child.pid; sleep 0.3"),
        )
        .unwrap();
    let child: u32 = root.wait_for_file("child.pid").parse().unwrap();
    let started = Instant::now();
    while root.runtime.current(Slot::Single).unwrap().unwrap().alive {
        assert!(started.elapsed() < Duration::from_secs(5));
        thread::sleep(Duration::from_millis(20));
    }
    assert!(proc_identity::is_running(child));
    root.runtime
        .start(Slot::Single, &root.spec("exec sleep 100"))
        .unwrap();
    assert!(!proc_identity::is_running(child));
}

#[test]
fn starting_a_slot_stops_an_unrecorded_process_of_that_slot_only() {
    let root = Root::new();
    let runtime = &root.runtime;
    let lost = runtime
        .start(Slot::Single, &root.spec("exec sleep 100"))
        .unwrap();
    let other = runtime
        .start(Slot::Blue, &root.spec("exec sleep 100"))
        .unwrap();
    fs::remove_file(root.dir.path().join("run/instance.json")).unwrap();
    fs::remove_file(root.dir.path().join("run/instance-blue.json")).unwrap();
    assert_eq!(runtime.strays().unwrap().len(), 2);

    runtime
        .start(Slot::Single, &root.spec("exec sleep 100"))
        .unwrap();
    assert!(
        !proc_identity::is_running(lost.pid),
        "the lost single instance was stopped"
    );
    assert!(
        proc_identity::is_running(other.pid),
        "another slot's process is left alone"
    );
    let strays = runtime.strays().unwrap();
    assert_eq!(strays.len(), 1);
    assert_eq!(strays[0].slot, Slot::Blue);
    runtime.stop_stray(&strays[0], Duration::ZERO).unwrap();
    runtime.stop(Slot::Single, Duration::ZERO).unwrap();
}

//! The host's supervisor with real processes on `local:` hosts: `kill -9` of the service, of
//! its monitor and of the supervisor; a simulated reboot run through the crontab's own line;
//! a crash loop; a liveness failure; log rotation at the cap.

use std::time::Duration;

use crate::blue_green::blue_green;
use crate::harness::{SPEC, Test};
use crate::root_processes::{
    alive, boot_entry_status, event_kinds, group_members, host_status, kill9, marked_groups,
    marked_processes, recorded_pid, root_id, run_boot_entry, service_of, serving, wait_until,
};

/// How long a killed instance may take to serve again (backoff 1 s + start + probe).
const BACK_WITHIN: Duration = Duration::from_secs(5);

/// A recreate deploy of v1, serving and supervised; the monitor's and the service's pids.
fn deployed() -> (Test, u32, u32) {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().contains("v1"));
    let monitor = recorded_pid(&t.root, "instance.json").expect("an instance record");
    let service = service_of(monitor).expect("the monitor's service");
    (t, monitor, service)
}

/// Waits until a new monitor (not `old`) is recorded and the app answers 200.
fn serving_again(t: &Test, old_monitor: u32) -> u32 {
    wait_until("the instance serves again", BACK_WITHIN, || {
        let monitor = recorded_pid(&t.root, "instance.json")?;
        (monitor != old_monitor && serving(t).is_some()).then_some(monitor)
    })
}

/// After one restart: `status --json` counts it and names the exit; the timeline has it.
fn assert_one_restart(t: &Test, how: &str) {
    let host = host_status(t);
    let supervision = &host["instance"]["supervision"];
    assert_eq!(supervision["status"], "running", "{host:#}");
    assert_eq!(supervision["restarts"], 1, "{host:#}");
    let exit = supervision["last_exit"]["status"].as_str().unwrap_or("");
    assert!(exit.contains(how), "last exit {exit:?} should say {how:?}");
    assert_eq!(host["instance"]["alive"], true);
    let kinds = event_kinds(t);
    for kind in ["instance.exited", "instance.restarted"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

#[test]
fn a_killed_service_serves_again_without_any_hoist_command() {
    let (t, monitor, service) = deployed();
    kill9(service);
    let new_monitor = serving_again(&t, monitor);
    assert!(!alive(monitor), "the old monitor went with its service");
    assert_eq!(marked_groups(&t.root).len(), 1, "one instance runs");
    assert!(service_of(new_monitor).is_some());
    // The monitor saw its child killed and recorded it.
    assert_one_restart(&t, "SIGKILL");
}

#[test]
fn a_killed_monitor_counts_as_the_instance_dying() {
    let (t, monitor, service) = deployed();
    kill9(monitor);
    let new_monitor = serving_again(&t, monitor);
    // The orphaned service held the port: it was stopped before the restart.
    assert!(!alive(service), "the old service is gone");
    assert_eq!(
        marked_groups(&t.root),
        [new_monitor].into_iter().collect(),
        "exactly the new instance runs"
    );
    // Nobody saw the monitor's own end, so how it ended is unknown, but it is counted.
    assert_one_restart(&t, "unknown");
}

#[test]
fn a_killed_supervisor_leaves_instances_alone_and_the_next_deploy_adopts_them() {
    let (t, monitor, service) = deployed();
    let supervisor = recorded_pid(&t.root, "supervisor.json").expect("a supervisor");
    kill9(supervisor);
    wait_until("the supervisor is gone", Duration::from_secs(5), || {
        (!alive(supervisor)).then_some(())
    });
    // Nothing else moved: the same monitor and service serve.
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(monitor) && alive(service));
    assert!(t.body().contains("v1"));

    let deploy = t.hoist(&["deploy", "dev"]).success();
    assert!(
        !deploy.stderr.contains("nothing to deploy"),
        "{}",
        deploy.stderr
    );
    deploy
        .stderr_contains("the supervisor is not running")
        .stderr_contains("started it again");
    let new_supervisor = recorded_pid(&t.root, "supervisor.json").unwrap();
    assert_ne!(new_supervisor, supervisor);
    assert!(alive(new_supervisor));
    // Adopted, not started again: exactly one copy, the same one.
    assert_eq!(recorded_pid(&t.root, "instance.json"), Some(monitor));
    assert_eq!(
        marked_groups(&t.root),
        [monitor].into_iter().collect(),
        "{:?}",
        marked_processes(&t.root)
    );
    assert_eq!(
        marked_processes(&t.root).len(),
        2,
        "one monitor, one service"
    );

    // The new supervisor looks after it.
    kill9(service);
    serving_again(&t, monitor);
    assert_eq!(marked_groups(&t.root).len(), 1);
    assert_one_restart(&t, "SIGKILL");
}

#[test]
fn a_killed_blue_green_instance_serves_again_through_the_proxy() {
    let t = blue_green();
    t.hoist(&["deploy", "dev"]).success();
    let record = ["instance-blue.json", "instance-green.json"]
        .into_iter()
        .find(|name| recorded_pid(&t.root, name).is_some())
        .expect("a slot's record");
    let monitor = recorded_pid(&t.root, record).unwrap();
    let proxy = recorded_pid(&t.root, "proxy.json").unwrap();
    kill9(service_of(monitor).unwrap());
    wait_until("the public port serves again", BACK_WITHIN, || {
        let now = recorded_pid(&t.root, record)?;
        (now != monitor).then(|| serving(&t)).flatten()
    });
    assert!(t.body().contains("v1"));
    assert_eq!(
        recorded_pid(&t.root, "proxy.json"),
        Some(proxy),
        "same proxy"
    );
    assert_eq!(marked_groups(&t.root).len(), 1, "one slot runs");
    assert_one_restart(&t, "SIGKILL");
    let report = t.hoist(&["check", "dev", "--json"]).json();
    assert_eq!(report["ok"], true, "{report:#}");
}

#[test]
fn the_supervisor_of_a_root_removed_by_hand_exits_and_its_instance_is_left_to_the_user() {
    let (t, monitor, service) = deployed();
    let supervisor = recorded_pid(&t.root, "supervisor.json").expect("a supervisor");
    let leftovers = Leftovers {
        groups: marked_groups(&t.root),
        root_id: root_id(&t.root),
    };
    std::fs::remove_dir_all(&t.root).unwrap();
    // Soon, not at its 60 s safety tick: its lock file going is the sign.
    wait_until("the supervisor exits", Duration::from_secs(10), || {
        (!alive(supervisor)).then_some(())
    });
    // What runs is no longer hoist's to restart or stop; it keeps running (`check` names it).
    assert!(alive(monitor) && alive(service));
    drop(leftovers);
}

/// The instance groups and boot entry of a root removed by hand, which `Test` cannot find:
/// killed and removed when dropped.
struct Leftovers {
    groups: std::collections::BTreeSet<u32>,
    root_id: String,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        for group in &self.groups {
            for pid in group_members(*group) {
                kill9(pid);
            }
        }
        crate::harness::remove_boot_entry_of_root_id(&self.root_id);
    }
}

/// Kills every process of the root with SIGKILL, as a power cut would.
fn power_cut(t: &Test) {
    let mut pids = marked_processes(&t.root);
    for record in ["supervisor.json", "proxy.json"] {
        pids.extend(recorded_pid(&t.root, record).filter(|pid| alive(*pid)));
    }
    assert!(!pids.is_empty());
    for pid in &pids {
        kill9(*pid);
    }
    wait_until(
        "every process of the root is gone",
        Duration::from_secs(5),
        || pids.iter().all(|pid| !alive(*pid)).then_some(()),
    );
    assert!(t.get("/").is_err(), "nothing answers after the power cut");
}

#[test]
fn after_a_reboot_the_boot_entry_brings_a_recreate_service_back() {
    let (t, _, _) = deployed();
    power_cut(&t);
    run_boot_entry(&t.root);
    wait_until("the service answers after boot", BACK_WITHIN, || {
        serving(&t)
    });
    assert!(t.body().contains("v1"));
    assert_eq!(marked_groups(&t.root).len(), 1);
    let host = host_status(&t);
    assert_eq!(host["supervisor"]["alive"], true, "{host:#}");
    assert_eq!(host["instance"]["alive"], true, "{host:#}");
    assert!(event_kinds(&t).iter().any(|k| k == "boot"));
    t.hoist(&["check", "dev"]).success();
}

#[test]
fn a_boot_that_fails_says_why_in_the_timeline_and_deploy_brings_the_service_back() {
    let (t, _, _) = deployed();
    power_cut(&t);
    // The supervisor cannot open its log: `logs` is a file now.
    let logs = t.root.join("logs");
    std::fs::rename(&logs, t.root.join("logs.aside")).unwrap();
    std::fs::write(&logs, "in the way").unwrap();
    assert!(!boot_entry_status(&t.root).success());
    assert!(serving(&t).is_none());
    // `status` moves the host's journal into the timeline.
    let host = host_status(&t);
    assert_eq!(host["instance"]["alive"], false, "{host:#}");
    let events = t.hoist(&["--json", "events", "dev"]).success().stdout;
    let failed = events
        .lines()
        .find(|line| line.contains("\"boot.failed\""))
        .unwrap_or_else(|| panic!("a boot.failed event in {events}"));
    assert!(failed.contains("logs"), "names what failed: {failed}");

    std::fs::remove_file(&logs).unwrap();
    std::fs::rename(t.root.join("logs.aside"), &logs).unwrap();
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().contains("v1"));
    t.hoist(&["check", "dev"]).success();
}

#[test]
fn after_a_reboot_the_boot_entry_brings_the_proxy_and_the_routed_instance_back() {
    let t = blue_green();
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().contains("v1"));
    let proxy = recorded_pid(&t.root, "proxy.json").expect("a proxy");
    power_cut(&t);
    assert!(!alive(proxy));
    run_boot_entry(&t.root);
    // Through the proxy on the public port.
    let body = wait_until("the public port answers after boot", BACK_WITHIN, || {
        serving(&t)
    });
    assert!(body.contains("v1"), "{body}");
    assert_eq!(marked_groups(&t.root).len(), 1, "one slot runs");
    let report = t.hoist(&["check", "dev", "--json"]).json();
    assert_eq!(report["ok"], true, "{report:#}");
}

/// Crash loop: fast backoff, three exits in a minute is a loop. The command exits at once
/// whenever the flag file exists.
fn crash_loop_spec(flag: &std::path::Path) -> String {
    SPEC.replace(
        "command = \"exec python3 app.py\"",
        &format!(
            "command = \"test -e {} && exit 3; exec python3 app.py\"",
            flag.display()
        ),
    )
    .replace(
        "[service.health]",
        "[service.restart]\nbackoff = \"100ms\"\nbackoff_max = \"200ms\"\ncrash_loop = 3\nwindow = \"1m\"\n\n[service.health]",
    )
}

#[test]
fn a_crash_loop_stops_the_restarts_until_a_fixed_deploy() {
    let t = Test::new();
    let flag = t.temp.path().join("crash");
    let t = t.spec(&crash_loop_spec(&flag));
    t.hoist(&["deploy", "dev"]).success();
    let monitor = recorded_pid(&t.root, "instance.json").unwrap();
    std::fs::write(&flag, "").unwrap();
    kill9(service_of(monitor).unwrap());

    let host = wait_until(
        "the instance is crash-looping",
        Duration::from_secs(10),
        || {
            let host = host_status(&t);
            (host["instance"]["supervision"]["status"] == "crash-looping").then_some(host)
        },
    );
    let supervision = &host["instance"]["supervision"];
    // The kill, then two restarts that exited at once: three exits.
    assert_eq!(supervision["restarts"], 2, "{host:#}");
    assert_eq!(
        supervision["last_exit"]["status"], "exit code 3",
        "{host:#}"
    );
    let text = t.hoist(&["status", "dev"]).success();
    assert!(text.stdout.contains("CRASH-LOOPING"), "{}", text.stdout);
    assert!(event_kinds(&t).iter().any(|k| k == "instance.crash_loop"));

    // No more restarts: the record stays as it is, nothing of the root runs.
    let record = std::fs::read_to_string(t.root.join("run/instance.json")).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        std::fs::read_to_string(t.root.join("run/instance.json")).unwrap(),
        record,
        "the supervisor left the crash-looping instance alone"
    );
    assert!(marked_processes(&t.root).is_empty());
    let check = t.hoist(&["check", "dev"]).code(1);
    assert!(check.stdout.contains("crash-looping"), "{}", check.stdout);

    // The fix: a command that does not look at the flag (which is still there).
    let fixed =
        crash_loop_spec(&flag).replace(&format!("test -e {} && exit 3; ", flag.display()), "");
    let t = t.spec(&fixed);
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().contains("v1"));
    let host = host_status(&t);
    let supervision = &host["instance"]["supervision"];
    assert_eq!(supervision["status"], "running", "{host:#}");
    assert_eq!(
        supervision["restarts"], 0,
        "a new instance starts a new history"
    );
    t.hoist(&["check", "dev"]).success();
}

/// Liveness: the app answers `/health` with 503 while a file named after its own pid exists,
/// so only the instance that was running turns unhealthy, not the one started after it.
#[test]
fn an_instance_that_stops_answering_its_health_check_is_restarted() {
    let t = Test::new();
    t.write(
        "app.py",
        &crate::harness::APP_PY.replace(
            "os.path.join(HERE, \"unhealthy\")",
            "os.path.join(HERE, f\"unhealthy-{os.getpid()}\")",
        ),
    );
    // Slow to start: a restarted instance fails two probes before it listens, which must
    // not count while it is within its health deadline (as a deploy's probe allows it).
    let t = t.spec(
        &SPEC
            .replace(
                "command = \"exec python3 app.py\"",
                "command = \"sleep 0.6; exec python3 app.py\"",
            )
            .replace(
                "deadline = \"10s\"",
                "deadline = \"10s\"\nliveness_interval = \"200ms\"\nliveness_failures = 2",
            ),
    );
    t.hoist(&["deploy", "dev"]).success();
    let monitor = recorded_pid(&t.root, "instance.json").unwrap();
    let service = service_of(monitor).unwrap();
    let release = t.live().unwrap();
    std::fs::write(
        t.root
            .join("releases")
            .join(&release)
            .join(format!("unhealthy-{service}")),
        "",
    )
    .unwrap();
    assert_eq!(t.get("/health").unwrap().0, 503);

    let new_monitor = serving_again(&t, monitor);
    assert!(!alive(service), "the unhealthy service was stopped");
    let (status, _) = t.get("/health").unwrap();
    assert_eq!(status, 200);
    assert_eq!(marked_groups(&t.root), [new_monitor].into_iter().collect());
    assert_eq!(host_status(&t)["instance"]["supervision"]["restarts"], 1);
    let kinds = event_kinds(&t);
    let unhealthy = kinds.iter().position(|k| k == "instance.unhealthy");
    let restarted = kinds.iter().position(|k| k == "instance.restarted");
    assert!(
        matches!((unhealthy, restarted), (Some(u), Some(r)) if u < r),
        "instance.unhealthy, then instance.restarted: {kinds:?}"
    );
}

/// A service that prints many lines: its log rotates at `log_max`, `log_keep` files kept.
#[test]
fn the_service_log_rotates_at_its_cap() {
    let spec = SPEC
        .replace(
            "command = \"exec python3 app.py\"",
            "command = \"for i in $(seq 1 300); do echo line-$i-padding-padding-padding; done; exec python3 app.py\"\nlog_max = \"1KB\"\nlog_keep = 2",
        )
        .replace(
            "deadline = \"10s\"",
            "deadline = \"10s\"\nliveness_interval = \"0s\"",
        );
    let t = Test::new().spec(&spec);
    t.hoist(&["deploy", "dev"]).success();
    let release = t.live().unwrap();
    let logs = t.root.join("logs");
    let file = |suffix: &str| logs.join(format!("{release}.log{suffix}"));
    for suffix in ["", ".1", ".2"] {
        let path = file(suffix);
        let size = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .len();
        // At most the cap, plus the one line that crossed it.
        assert!(size <= 1024 + 200, "{} is {size} bytes", path.display());
    }
    assert!(!file(".3").exists(), "only log_keep = 2 rotated files");

    let current = std::fs::read_to_string(file("")).unwrap();
    let newest: Vec<&str> = current
        .lines()
        .rev()
        .take(5)
        .map(|line| line.rsplit('\t').next().unwrap())
        .collect();
    let shown = t.hoist(&["logs", "dev", "--lines", "5"]).success().stdout;
    assert_eq!(shown.lines().count(), 5, "{shown}");
    for text in newest {
        assert!(shown.contains(text), "{text:?} in {shown}");
    }
}

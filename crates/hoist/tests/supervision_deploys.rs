//! `deploy` converges what runs with what is recorded after each kind of kill (nothing else
//! changed in the tree), with `check` naming the problem and the exact command first; and the
//! deploys around a failure: a failed start put back, `refresh` with a service, a resumed
//! deploy that prunes, a put-back probed with the old release's own health settings.

use std::time::Duration;

use crate::blue_green::blue_green;
use crate::harness::{SPEC, Test};
use crate::root_processes::{
    alive, boot_line, kill9, marked_groups, recorded_pid, remove_boot_line, root_id, service_of,
    serving, wait_until,
};

/// `check dev` fails, and names `problem` and the command that repairs it on the same line.
#[track_caller]
fn check_names(t: &Test, problem: &str) {
    let check = t.hoist(&["check", "dev"]).code(1);
    let line = check
        .stdout
        .lines()
        .find(|line| line.contains(problem))
        .unwrap_or_else(|| panic!("check should name {problem:?}:\n{}", check.stdout));
    assert!(
        line.contains("`hoist deploy dev`"),
        "check should name the command with {problem:?}:\n{}",
        check.stdout
    );
}

/// `deploy dev` with the same tree converges (it never says "nothing to deploy"), then
/// `check` is ok.
#[track_caller]
fn deploy_converges(t: &Test) {
    let deploy = t.hoist(&["deploy", "dev"]).success();
    assert!(
        !deploy.stdout.contains("nothing to deploy"),
        "deploy must converge:\n{}",
        deploy.stdout
    );
    deploy.stderr_contains("converging what runs");
    let report = t.hoist(&["check", "dev", "--json"]).json();
    assert_eq!(report["ok"], true, "{report:#}");
    // Converged: the next deploy finds nothing to do.
    t.hoist(&["deploy", "dev"])
        .success()
        .stdout_contains("nothing to deploy");
}

fn kill_supervisor(t: &Test) {
    let supervisor = recorded_pid(&t.root, "supervisor.json").expect("a supervisor");
    kill9(supervisor);
    wait_until("the supervisor is gone", Duration::from_secs(5), || {
        (!alive(supervisor)).then_some(())
    });
}

#[test]
fn deploy_brings_back_an_instance_nothing_restarted() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let live = t.live().unwrap();
    kill_supervisor(&t);
    let monitor = recorded_pid(&t.root, "instance.json").unwrap();
    kill9(service_of(monitor).unwrap());
    wait_until("the instance is gone", Duration::from_secs(5), || {
        (!alive(monitor)).then_some(())
    });
    assert!(t.get("/").is_err());

    check_names(&t, "is not running");
    check_names(&t, "the supervisor");
    deploy_converges(&t);
    assert!(t.body().contains("v1"));
    assert_eq!(t.live().unwrap(), live, "the same release, started again");
    assert!(recorded_pid(&t.root, "supervisor.json").is_some_and(alive));
    assert_eq!(marked_groups(&t.root).len(), 1);
}

#[test]
fn deploy_brings_back_a_blue_green_instance_nothing_restarted() {
    let t = blue_green();
    t.hoist(&["deploy", "dev"]).success();
    kill_supervisor(&t);
    let slot = ["instance-blue.json", "instance-green.json"]
        .into_iter()
        .find(|name| recorded_pid(&t.root, name).is_some())
        .unwrap();
    let monitor = recorded_pid(&t.root, slot).unwrap();
    kill9(monitor);
    wait_until("the public port fails", Duration::from_secs(5), || {
        (serving(&t).is_none()).then_some(())
    });

    check_names(&t, "the supervisor");
    check_names(&t, "where no recorded instance runs");
    deploy_converges(&t);
    assert!(t.body().contains("v1"));
    assert_eq!(marked_groups(&t.root).len(), 1, "one slot runs");
}

#[test]
fn deploy_restarts_a_killed_proxy_with_its_route() {
    let t = blue_green();
    t.hoist(&["deploy", "dev"]).success();
    let proxy = recorded_pid(&t.root, "proxy.json").unwrap();
    kill9(proxy);
    wait_until("the public port is closed", Duration::from_secs(5), || {
        t.get("/").is_err().then_some(())
    });

    check_names(&t, &format!("the proxy (pid {proxy}) is not running"));
    deploy_converges(&t);
    assert!(t.body().contains("v1"), "the public port answers again");
    let new_proxy = recorded_pid(&t.root, "proxy.json").unwrap();
    assert_ne!(new_proxy, proxy);
}

#[test]
fn deploy_reinstalls_a_boot_entry_removed_by_hand() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    assert!(boot_line(&t.root).is_some());
    remove_boot_line(&t.root);

    check_names(&t, "no boot entry");
    deploy_converges(&t);
    let line = boot_line(&t.root).expect("the @reboot line is back");
    assert!(line.contains(" boot"), "{line}");
}

/// The item 3: the start itself fails (a NUL byte cannot go into an environment),
/// after the old instance was stopped and `live` switched.
#[test]
fn a_release_that_cannot_start_puts_the_old_one_back() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();
    // No post_upload hook: it would get the variable too, and fail before the start.
    let t = t.spec(
        &SPEC
            .replace("post_upload = \"python3 -m py_compile app.py\"", "")
            .replace(
                "vars = { GREETING = \"hi\" }",
                "vars = { GREETING = \"hi\", BAD = \"a\\u0000b\" }",
            ),
    );
    let failed = t.hoist(&["deploy", "dev"]).code(1);
    assert!(
        failed.stderr.contains("could not be started"),
        "the start failed, not a probe:\n{}",
        failed.stderr
    );
    failed.stderr_contains(&format!("switched back to `{first}`, which serves again"));
    assert_eq!(t.live().unwrap(), first);
    assert!(t.body().contains("v1"));
    let report = t.hoist(&["check", "dev", "--json"]).json();
    assert_eq!(
        report["ok"], true,
        "recorded, alive and supervised: {report:#}"
    );
    let host = &report["hosts"][0];
    assert_eq!(host["instance_release"], first.as_str());
    assert_eq!(host["supervision"]["status"], "running");
}

#[test]
fn a_refreshed_release_is_what_the_record_and_the_supervisor_name() {
    let t = Test::new();
    let t = t.spec(&SPEC.replace("[hooks]\n", "[hooks]\nrefresh = \"true\"\n"));
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();
    let monitor = recorded_pid(&t.root, "instance.json").unwrap();
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();
    let second = t.live().unwrap();
    assert_ne!(first, second);
    assert_eq!(
        recorded_pid(&t.root, "instance.json"),
        Some(monitor),
        "refresh does not restart"
    );

    let check = t.hoist(&["check", "dev"]).success();
    assert!(!check.stdout.contains("but `live` is"), "{}", check.stdout);
    let record = crate::root_processes::run_record(&t.root, "instance.json").unwrap();
    assert_eq!(record["launch"]["release"], second.as_str(), "{record:#}");

    // What the supervisor starts after a crash is the refreshed release.
    kill9(service_of(monitor).unwrap());
    let body = wait_until("the instance serves again", Duration::from_secs(5), || {
        let now = recorded_pid(&t.root, "instance.json")?;
        (now != monitor).then(|| serving(&t)).flatten()
    });
    assert!(body.contains(&second), "{body}");
    t.hoist(&["check", "dev"]).success();
}

#[test]
fn deploys_resumed_after_crashes_still_prune() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    for version in 2..=7 {
        t.write("message.txt", &format!("v{version}\n"));
        let crashed = t.hoist_with(
            &["deploy", "dev"],
            &[("HOIST_FAILPOINT", "run.after_start")],
        );
        assert_eq!(crashed.code, -1, "killed at run.after_start: {crashed:?}");
    }
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().contains("v7"));
    t.assert_invariants();
    let releases = std::fs::read_dir(t.root.join("releases")).unwrap().count();
    // keep_releases = 3 in the spec.
    assert!(
        releases <= 3,
        "{releases} releases kept with keep_releases = 3"
    );
    t.hoist(&["check", "dev"]).success();
}

/// v1 answers `/health` within its 2 s deadline; v2's spec asks for `/health2` (which v1 does
/// not answer) with 3 s: putting v1 back must probe it as v1 was deployed.
#[test]
fn a_failed_deploy_probes_the_old_release_with_its_own_health_settings() {
    let t = Test::new();
    let t = t.spec(&SPEC.replace("deadline = \"10s\"", "deadline = \"2s\""));
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();
    let t = t.spec(
        &SPEC
            .replace("deadline = \"10s\"", "deadline = \"3s\"")
            .replace("path = \"/health\"", "path = \"/health2\""),
    );
    t.write("message.txt", "v2\n");
    let failed = t.hoist(&["deploy", "dev"]).code(1);
    failed
        .stderr_contains("failed its health check")
        .stderr_contains(&format!("switched back to `{first}`, which serves again"));
    assert_eq!(t.live().unwrap(), first);
    assert!(t.body().contains("v1"));
    assert!(recorded_pid(&t.root, "instance.json").is_some_and(alive));
}

/// `destroy` stops the supervisor before the instances (or it would start them again) and
/// takes the boot entry away: nothing of the environment is left to run at the next boot.
#[test]
fn destroy_stops_the_supervisor_and_removes_the_boot_entry() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let supervisor = recorded_pid(&t.root, "supervisor.json").expect("a supervisor");
    let id = root_id(&t.root);
    assert!(boot_line(&t.root).is_some(), "the boot entry is installed");
    t.hoist(&["destroy", "dev", "--yes"]).success();
    wait_until("the supervisor to exit", Duration::from_secs(10), || {
        (!alive(supervisor)).then_some(())
    });
    let crontab = std::process::Command::new("crontab")
        .arg("-l")
        .output()
        .expect("crontab -l");
    let crontab = String::from_utf8_lossy(&crontab.stdout);
    assert!(
        !crontab.contains(&format!("# hoist-boot {id}")),
        "the boot entry is gone: {crontab}"
    );
    assert!(serving(&t).is_none(), "nothing serves");
}

//! Supervision and boot on real SSH hosts (the testbed: sshd in network namespaces, each
//! host with its own `/srv`): an instance killed on one host serves again there alone, and
//! the restart is in `status` and the timeline under that host's name; a killed supervisor
//! leaves the instances running and `deploy` starts one that adopts them; a simulated reboot
//! (every process of the host's root killed) is undone by the boot entry's own command, run
//! on that host as cron would; `deploy` repairs the one host that needs it and leaves the
//! other alone; a host whose sshd is down is UNREACHABLE, not empty; the url names the host.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::blue_green::blue_green_spec;
use crate::harness::{Outcome, SPEC, Test, http_get_at};
use crate::testbed::Testbed;

/// The most a killed instance may take to serve again, with the default 1 s backoff.
const SERVES_AGAIN_WITHIN: Duration = Duration::from_secs(5);

/// A project whose environment `fleet` runs on every host of a testbed, under `/srv/app`.
struct Fleet {
    // Fields drop in order: the project (and its processes) before the hosts.
    t: Test,
    tb: Testbed,
    blue_green: bool,
}

impl Fleet {
    /// `None` when the testbed cannot run (not root, outside CI).
    fn up(count: usize, blue_green: bool) -> Option<Self> {
        let tb = Testbed::up(count, false)?;
        let t = Test::new();
        let base = match blue_green {
            true => blue_green_spec(),
            false => SPEC.to_owned(),
        }
        .replace("{port}", &t.port.to_string());
        let service_and_more =
            &base[base.find("[hooks]").unwrap()..base.find("[env.dev]").unwrap()];
        let hosts: Vec<String> = tb.hosts.iter().map(|h| format!("\"root@{h}\"")).collect();
        t.write(
            "Hoist.toml",
            &format!(
                "[app]\nname = \"hello\"\n\n[build]\nupload = [\"app.py\", \"message.txt\"]\n\n\
                 {service_and_more}[env.fleet]\nhosts = [{}]\nroot = \"/srv/app\"\n\
                 ssh_config = \"{}\"\nconnect_timeout = \"3s\"\nparallel = 2\n",
                hosts.join(", "),
                tb.ssh_config.display(),
            ),
        );
        Some(Self { t, tb, blue_green })
    }

    fn hoist(&self, args: &[&str]) -> Outcome {
        self.t.hoist(args)
    }

    /// `deploy fleet`, then every host serves v1 and has its boot entry. The hosts share
    /// this machine's crontab, and `parallel = 2` installs their lines at the same time:
    /// neither may be lost.
    fn deploy(&self) {
        self.hoist(&["deploy", "fleet"]).success();
        let status = self.status();
        for host in 0..self.tb.hosts.len() {
            let body = self.body(host).unwrap();
            assert!(body.contains("v1"), "{}: {body}", self.name(host));
            let entry = &status["hosts"][host]["boot_entry"];
            assert_eq!(entry["installed"], true, "{}: {status:#}", self.name(host));
            assert_eq!(entry["kind"], "crontab", "{}: {status:#}", self.name(host));
        }
    }

    /// `h1` for host 0: its name in the testbed's ssh_config and directory.
    fn name(&self, host: usize) -> String {
        format!("h{}", host + 1)
    }

    /// The host's address as hoist names it (`root@10.213.x.y`).
    fn address(&self, host: usize) -> String {
        format!("root@{}", self.tb.hosts[host])
    }

    /// The host's deploy root, as this machine sees it.
    fn root(&self, host: usize) -> PathBuf {
        self.tb.dir().join(self.name(host)).join("srv/app")
    }

    /// Runs `command` (a shell line) on the host over ssh.
    fn ssh(&self, host: usize, command: &str) -> Output {
        Command::new("ssh")
            .arg("-F")
            .arg(&self.tb.ssh_config)
            .arg(self.name(host))
            .arg(command)
            .output()
            .unwrap()
    }

    /// `GET /` as a client of the host sees it: blue-green through the host's proxy on its
    /// address; recreate on the host's loopback, where the example app listens.
    fn body(&self, host: usize) -> Result<String, String> {
        if self.blue_green {
            let address: SocketAddr = format!("{}:{}", self.tb.hosts[host], self.t.port)
                .parse()
                .unwrap();
            return match http_get_at(address, "/")? {
                (200, body) => Ok(body),
                (status, body) => Err(format!("{status}: {body}")),
            };
        }
        let script = format!(
            "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:{}/', timeout=5).read().decode(), end='')",
            self.t.port
        );
        let output = self.ssh(host, &format!("python3 -c \"{script}\""));
        match output.status.success() {
            true => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
            false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
        }
    }

    /// Waits until the host serves `expected` again, at most `within`.
    fn wait_serving(&self, host: usize, expected: &str, within: Duration) {
        let started = Instant::now();
        loop {
            let answer = self.body(host);
            if answer.as_ref().is_ok_and(|body| body.contains(expected)) {
                return;
            }
            assert!(
                started.elapsed() < within,
                "{} does not serve {expected} again within {within:?}: {answer:?}\nsupervisor log:\n{}",
                self.name(host),
                std::fs::read_to_string(self.root(host).join("logs/supervisor.log"))
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The pid recorded for the host's serving instance (its monitor, the group leader).
    fn instance_pid(&self, host: usize) -> u32 {
        let status = self.hoist(&["status", "fleet", "--json"]).success().json();
        let pid = &status["hosts"][host]["instance"]["instance"]["pid"];
        u32::try_from(pid.as_u64().unwrap_or_else(|| panic!("no pid: {status:#}"))).unwrap()
    }

    /// The instances of the host's root that run: group leaders carrying the root's mark.
    fn running_instances(&self, host: usize) -> Vec<u32> {
        let id = std::fs::read_to_string(self.root(host).join(".hoist/root-id")).unwrap();
        let mark = format!("HOIST_INSTANCE={}:", id.trim());
        let mut leaders: Vec<u32> = all_processes()
            .into_iter()
            .filter(|p| p.pid == p.group && environ(p.pid).iter().any(|v| v.starts_with(&mark)))
            .map(|p| p.pid)
            .collect();
        leaders.sort_unstable();
        leaders
    }

    /// The instance's service: the one process of its group that is not its monitor.
    fn service_process(&self, host: usize) -> u32 {
        let leader = self.instance_pid(host);
        let members: Vec<u32> = all_processes()
            .into_iter()
            .filter(|p| p.group == leader && p.pid != leader)
            .map(|p| p.pid)
            .collect();
        assert_eq!(members.len(), 1, "the service under monitor {leader}");
        members[0]
    }

    fn supervisor_pid(&self, host: usize) -> u32 {
        let path = self.root(host).join("run/supervisor.json");
        let record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        u32::try_from(record["pid"].as_u64().unwrap()).unwrap()
    }

    /// The supervisors that run on the host (in its network namespace).
    fn running_supervisors(&self, host: usize) -> Vec<u32> {
        self.host_processes(host)
            .into_iter()
            .filter(|&pid| command_line(pid).contains(" host --root /srv/app supervise"))
            .collect()
    }

    /// Every process of the host but its sshd: what a reboot would end.
    fn host_processes(&self, host: usize) -> Vec<u32> {
        let state = std::fs::read_to_string(self.tb.dir().join("testbed.state")).unwrap();
        let prefix = state
            .lines()
            .find_map(|line| line.strip_prefix("PREFIX="))
            .unwrap();
        let output = Command::new("ip")
            .args(["netns", "pids", &format!("{prefix}-{}", self.name(host))])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .filter(|&pid| !gone(pid) && comm(pid) != "sshd")
            .collect()
    }

    /// Runs the host's boot entry as cron would at boot: on that host, the command of the
    /// crontab line marked with its root's id, in cron's small environment.
    fn run_boot_entry(&self, host: usize) {
        let id = std::fs::read_to_string(self.root(host).join(".hoist/root-id")).unwrap();
        let marker = format!("# hoist-boot {}", id.trim());
        let crontab = self.ssh(host, "crontab -l");
        assert!(crontab.status.success(), "{crontab:?}");
        let crontab = String::from_utf8_lossy(&crontab.stdout).into_owned();
        let line = crontab
            .lines()
            .find(|line| line.ends_with(&marker))
            .unwrap_or_else(|| panic!("no line marked {marker:?} in the crontab:\n{crontab}"));
        let command = line
            .strip_prefix("@reboot ")
            .unwrap_or_else(|| panic!("not an @reboot line: {line}"));
        let output = self.ssh(
            host,
            &format!(
                "env -i HOME=/root LOGNAME=root SHELL=/bin/sh PATH=/usr/bin:/bin sh -c {}",
                shell_quote(command)
            ),
        );
        assert!(
            output.status.success(),
            "`{command}` on the host: {output:?}"
        );
    }

    /// `status fleet --json`.
    fn status(&self) -> serde_json::Value {
        self.hoist(&["status", "fleet", "--json"]).success().json()
    }

    /// The supervisor's events of the timeline, as `(kind, actor, message)`.
    fn supervisor_events(&self) -> Vec<(String, String, String)> {
        let events = self.hoist(&["--json", "events", "fleet"]).success().stdout;
        events
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .filter(|e| e["actor"].as_str().unwrap().starts_with("supervisor@"))
            .map(|e| {
                let text = |key: &str| e[key].as_str().unwrap().to_owned();
                (text("kind"), text("actor"), text("message"))
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
struct Process {
    pid: u32,
    group: u32,
}

/// Every live (not zombie) process of this machine: the testbed's hosts share its pid space.
fn all_processes() -> Vec<Process> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| entry.file_name().to_string_lossy().parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
            (fields.first() != Some(&"Z")).then_some(Process {
                pid,
                group: fields.get(2)?.parse().ok()?,
            })
        })
        .collect()
}

fn environ(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

fn command_line(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Gone, or a zombie waiting for its reaper.
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .is_some_and(|end| stat[end + 1..].trim_start().starts_with('Z')),
    }
}

fn alive(pid: u32) -> bool {
    !gone(pid)
}

/// SIGKILL, and waits until the process is gone.
fn kill9(pids: &[u32]) {
    for &pid in pids {
        let _ = kill(Pid::from_raw(i32::try_from(pid).unwrap()), Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&pid| alive(pid)) {
        assert!(Instant::now() < deadline, "{pids:?} survived SIGKILL");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGKILL to a whole process group (an instance: its monitor and its service).
fn kill9_group(leader: u32) {
    let members: Vec<u32> = all_processes()
        .into_iter()
        .filter(|p| p.group == leader)
        .map(|p| p.pid)
        .collect();
    let _ = nix::sys::signal::killpg(
        Pid::from_raw(i32::try_from(leader).unwrap()),
        Signal::SIGKILL,
    );
    kill9(&members);
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The host's serving instance in `status --json`.
fn status_instance(status: &serde_json::Value, host: usize) -> &serde_json::Value {
    &status["hosts"][host]["instance"]
}

/// Test 1: kill -9 of the service on host 1; the supervisor there starts it again.
fn killed_instance_serves_again_on_its_host_alone(blue_green: bool) {
    let Some(f) = Fleet::up(2, blue_green) else {
        return;
    };
    f.deploy();
    let before = [f.instance_pid(0), f.instance_pid(1)];
    let service = f.service_process(0);
    kill9(&[service]);
    f.wait_serving(0, "v1", SERVES_AGAIN_WITHIN);
    // A restart by the supervisor is no drift: `check` (first to talk to the hosts since)
    // reads the journal and follows the instance to its new pid.
    f.hoist(&["check", "fleet"]).success();

    let status = f.status();
    let (h1, h2) = (status_instance(&status, 0), status_instance(&status, 1));
    assert_eq!(h1["alive"], true, "{status:#}");
    assert_ne!(
        h1["instance"]["pid"], before[0],
        "a new instance: {status:#}"
    );
    assert_eq!(h1["supervision"]["status"], "running", "{status:#}");
    assert_eq!(h1["supervision"]["restarts"], 1, "{status:#}");
    assert!(h1["supervision"]["last_exit"].is_object(), "{status:#}");
    // The other host was not touched.
    assert_eq!(h2["instance"]["pid"], before[1], "{status:#}");
    assert_eq!(h2["supervision"]["restarts"], 0, "{status:#}");
    assert!(h2["supervision"]["last_exit"].is_null(), "{status:#}");
    assert_eq!(f.running_instances(0).len(), 1);
    assert_eq!(f.running_instances(1), vec![before[1]]);

    let events = f.supervisor_events();
    let (h1, h2) = (f.address(0), f.address(1));
    for kind in ["instance.exited", "instance.restarted"] {
        let found = events.iter().find(|(k, _, _)| k == kind);
        let (_, actor, message) = found.unwrap_or_else(|| panic!("no {kind} in {events:#?}"));
        assert_eq!(actor, &format!("supervisor@{h1}"), "{events:#?}");
        assert!(message.starts_with(&format!("{h1}: ")), "{events:#?}");
    }
    assert!(
        !events
            .iter()
            .any(|(kind, actor, _)| kind.starts_with("instance.") && actor.ends_with(&h2)),
        "nothing happened to the instance on {h2}: {events:#?}"
    );
}

#[test]
fn a_killed_instance_serves_again_on_its_ssh_host_alone() {
    killed_instance_serves_again_on_its_host_alone(false);
}

#[test]
fn a_killed_blue_green_instance_serves_again_behind_its_ssh_hosts_proxy() {
    killed_instance_serves_again_on_its_host_alone(true);
}

/// Test 2: kill -9 of the supervisor on host 1.
#[test]
fn a_killed_supervisor_on_an_ssh_host_leaves_its_instance_and_deploy_starts_one_again() {
    let Some(f) = Fleet::up(2, false) else {
        return;
    };
    f.deploy();
    let instances = [f.instance_pid(0), f.instance_pid(1)];
    let supervisors = [f.supervisor_pid(0), f.supervisor_pid(1)];
    assert_eq!(f.running_supervisors(0), vec![supervisors[0]]);
    kill9(&[supervisors[0]]);

    // The instances are untouched.
    std::thread::sleep(Duration::from_secs(1));
    for (host, &instance) in instances.iter().enumerate() {
        assert_eq!(f.running_instances(host), vec![instance]);
        assert!(f.body(host).unwrap().contains("v1"));
    }
    let status = f.status();
    assert_eq!(
        status["hosts"][0]["supervisor"]["alive"], false,
        "{status:#}"
    );
    assert_eq!(
        status["hosts"][1]["supervisor"]["alive"], true,
        "{status:#}"
    );
    f.hoist(&["check", "fleet"])
        .code(1)
        .stdout_contains(&format!(
            "the supervisor (pid {}) is not running",
            supervisors[0]
        ));

    f.hoist(&["deploy", "fleet"])
        .success()
        .stderr_contains("converging what runs");
    let new = f.supervisor_pid(0);
    assert_ne!(new, supervisors[0]);
    assert_eq!(f.running_supervisors(0), vec![new], "one supervisor on h1");
    assert_eq!(
        f.running_supervisors(1),
        vec![supervisors[1]],
        "h2's is the same"
    );
    for (host, &instance) in instances.iter().enumerate() {
        assert_eq!(
            f.running_instances(host),
            vec![instance],
            "exactly one instance on {}, the one that ran",
            f.name(host)
        );
    }
    f.hoist(&["check", "fleet"]).success();

    // The new supervisor adopted the instance: it starts it again when it dies.
    kill9(&[f.service_process(0)]);
    f.wait_serving(0, "v1", SERVES_AGAIN_WITHIN);
    assert_eq!(f.running_instances(0).len(), 1);
}

/// Test 3: every process of host 2's root killed, then its crontab line's command run there.
fn rebooted_host_serves_again_from_its_boot_entry(blue_green: bool) {
    let Some(f) = Fleet::up(2, blue_green) else {
        return;
    };
    f.deploy();
    let h1 = (f.instance_pid(0), f.supervisor_pid(0));
    let victims = f.host_processes(1);
    let instance = f.instance_pid(1);
    for pid in [instance, f.supervisor_pid(1)] {
        assert!(victims.contains(&pid), "{pid} runs on h2: {victims:?}");
    }
    if blue_green {
        assert!(
            victims
                .iter()
                .any(|&pid| command_line(pid).contains("proxy --listen")),
            "the proxy runs on h2: {victims:?}"
        );
    }
    kill9(&victims);
    assert!(f.body(1).is_err(), "h2 serves nothing after its 'reboot'");
    assert!(f.running_instances(1).is_empty());

    f.run_boot_entry(1);
    f.wait_serving(1, "v1", Duration::from_secs(10));
    assert_eq!(f.running_instances(1).len(), 1);
    assert_eq!(f.running_supervisors(1).len(), 1);
    let status = f.status();
    let h2 = &status["hosts"][1];
    assert_eq!(h2["instance"]["alive"], true, "{status:#}");
    assert_eq!(h2["supervisor"]["alive"], true, "{status:#}");
    assert_eq!(h2["boot_entry"]["installed"], true, "{status:#}");
    // h1 was not touched.
    assert_eq!((f.instance_pid(0), f.supervisor_pid(0)), h1);
    f.hoist(&["check", "fleet"]).success();
}

#[test]
fn a_rebooted_ssh_host_serves_again_from_its_crontab_entry() {
    rebooted_host_serves_again_from_its_boot_entry(false);
}

#[test]
fn a_rebooted_blue_green_ssh_host_serves_again_through_its_proxy() {
    rebooted_host_serves_again_from_its_boot_entry(true);
}

/// Test 4: instance and supervisor killed on host 2 only.
fn deploy_repairs_one_host_and_leaves_the_other(blue_green: bool) {
    let Some(f) = Fleet::up(2, blue_green) else {
        return;
    };
    f.deploy();
    let h1 = (f.instance_pid(0), f.supervisor_pid(0));
    let (instance, supervisor) = (f.instance_pid(1), f.supervisor_pid(1));
    // The supervisor first, or it would start the instance again.
    kill9(&[supervisor]);
    kill9_group(instance);

    let check = f.hoist(&["check", "fleet"]).code(1);
    let lines: Vec<&str> = check.stdout.lines().collect();
    let h2_line = lines
        .iter()
        .position(|line| line.contains(&f.address(1)))
        .unwrap();
    assert!(lines[h2_line].starts_with("DRIFT"), "{}", check.stdout);
    let h1_line = lines
        .iter()
        .find(|line| line.contains(&f.address(0)))
        .unwrap();
    assert!(h1_line.starts_with("ok"), "{}", check.stdout);
    let deploy = "`hoist deploy fleet`";
    for problem in [
        format!("the supervisor (pid {supervisor}) is not running"),
        format!("(pid {instance})"),
    ] {
        let line = check
            .stdout
            .lines()
            .find(|line| line.contains(&problem))
            .unwrap_or_else(|| panic!("{problem:?} not in:\n{}", check.stdout));
        assert!(line.contains(deploy), "{line}");
    }
    let report = f.hoist(&["check", "fleet", "--json"]).code(1).json();
    assert_eq!(
        report["hosts"][0]["problems"],
        serde_json::json!([]),
        "{report:#}"
    );

    f.hoist(&["deploy", "fleet"])
        .success()
        .stderr_contains("converging what runs");
    f.wait_serving(1, "v1", SERVES_AGAIN_WITHIN);
    f.hoist(&["check", "fleet"]).success();
    assert_eq!(f.running_instances(1).len(), 1);
    assert_eq!(f.running_supervisors(1), vec![f.supervisor_pid(1)]);
    assert_eq!((f.instance_pid(0), f.supervisor_pid(0)), h1, "h1 untouched");
    assert_eq!(f.running_instances(0), vec![h1.0]);
}

#[test]
fn deploy_brings_back_the_one_ssh_host_whose_instance_and_supervisor_died() {
    deploy_repairs_one_host_and_leaves_the_other(false);
}

#[test]
fn deploy_brings_back_the_one_blue_green_ssh_host_whose_instance_and_supervisor_died() {
    deploy_repairs_one_host_and_leaves_the_other(true);
}

/// Test 5: host 2's sshd is down (and, unseen, its instance and supervisor die meanwhile).
#[test]
fn an_ssh_host_whose_sshd_is_down_is_unreachable_not_empty_and_deploy_converges_after() {
    let Some(f) = Fleet::up(2, false) else {
        return;
    };
    f.deploy();
    let (instance, supervisor) = (f.instance_pid(1), f.supervisor_pid(1));
    f.tb.stop_host("h2");
    kill9(&[supervisor]);
    kill9_group(instance);

    let status = f.hoist(&["status", "fleet"]).success();
    let h2 = status
        .stdout
        .split("host:")
        .find(|section| section.contains(&f.address(1)))
        .unwrap();
    assert!(h2.contains("UNREACHABLE"), "{}", status.stdout);
    assert!(!h2.contains("live: nothing"), "{}", status.stdout);
    assert!(!h2.contains("instance:"), "{}", status.stdout);
    let status = f.status();
    let (h1, h2) = (&status["hosts"][0], &status["hosts"][1]);
    assert_eq!(h1["reachable"], true, "{status:#}");
    assert_eq!(h1["instance"]["alive"], true, "{status:#}");
    assert_eq!(h2["reachable"], false, "{status:#}");
    assert!(h2["instance"].is_null(), "{status:#}");
    assert!(h2["live_release"].is_null(), "{status:#}");
    assert!(
        h2["error"].as_str().unwrap().contains(&f.tb.hosts[1]),
        "{status:#}"
    );

    let report = f.hoist(&["check", "fleet", "--json"]).code(1).json();
    assert_eq!(
        report["hosts"][0]["problems"],
        serde_json::json!([]),
        "{report:#}"
    );
    let problems = report["hosts"][1]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{report:#}");
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .starts_with("cannot reach the host"),
        "{report:#}"
    );
    let check = f.hoist(&["check", "fleet"]).code(1);
    assert!(
        check.stdout.contains("cannot reach the host"),
        "{}",
        check.stdout
    );

    f.tb.start_host("h2");
    f.hoist(&["check", "fleet"])
        .code(1)
        .stdout_contains(&format!("(pid {instance}) is not running"));
    f.hoist(&["deploy", "fleet"])
        .success()
        .stderr_contains("converging what runs");
    f.wait_serving(1, "v1", SERVES_AGAIN_WITHIN);
    f.hoist(&["check", "fleet"]).success();
}

/// Test 6: the url of an SSH environment names its host, and answers there.
#[test]
fn the_url_of_an_ssh_environment_names_the_ssh_host_and_answers() {
    let Some(f) = Fleet::up(2, true) else {
        return;
    };
    let url = format!("http://{}:{}/", f.tb.hosts[0], f.t.port);
    let deploy = f.hoist(&["deploy", "fleet"]).success();
    let printed = format!("{}{}", deploy.stdout, deploy.stderr);
    assert!(printed.contains(&format!("url:  {url}")), "{printed}");
    assert!(!printed.contains("127.0.0.1"), "{printed}");
    f.hoist(&["status", "fleet"])
        .success()
        .stdout_contains(&format!("url:         {url}"));
    assert_eq!(f.status()["url"], url.as_str());
    let json = f.hoist(&["deploy", "fleet", "--json"]).success().json();
    assert_eq!(json["url"], url.as_str(), "{json:#}");

    // The printed url is where the service answers (the proxy listens on the host's address).
    let address: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let (status, body) = http_get_at(address, "/").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("v1"), "{body}");
}

//! Real sshd hosts for tests, from `scripts/testbed.sh`: `Testbed::up(n, jump)` starts hosts
//! h1..hn (and j1, reachable only through h1) in network namespaces, each with its own `/srv`;
//! drop takes them down, even when the test panicked. Needs root: without it the test is
//! skipped with a message — except under `CI`, where a skip would hide a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hoist::ports::connector::HostTarget;
use hoist_core::{HostAddress, SshDestination};
use tempfile::TempDir;

pub struct Testbed {
    dir: TempDir,
    /// The hosts' addresses, h1 first.
    pub hosts: Vec<String>,
    /// j1's address, reachable only through `hosts[0]`.
    pub jump_host: Option<String>,
    /// An address in the testbed's range with no host behind it (the blackhole answers).
    pub unreachable: String,
    /// `Host *` gives the client key and known_hosts; `Host h1`… name the hosts.
    pub ssh_config: PathBuf,
    pub identity: PathBuf,
    pub known_hosts: PathBuf,
}

impl Testbed {
    /// `count` hosts, plus j1 behind h1 when `jump`. `None` (skipped) when not root.
    #[expect(
        clippy::print_stderr,
        reason = "a skipped test says so where the runner shows it"
    )]
    pub fn up(count: usize, jump: bool) -> Option<Self> {
        if !nix::unistd::geteuid().is_root() {
            assert!(
                std::env::var_os("CI").is_none(),
                "ssh tests need root for network namespaces, and CI must run them"
            );
            eprintln!("SKIPPED (needs root for network namespaces)");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("hoist-testbed-")
            .tempdir()
            .expect("testbed dir");
        // Built before `up` runs, so a failed `up` is still taken down by drop.
        let mut testbed = Self {
            ssh_config: dir.path().join("ssh_config"),
            identity: dir.path().join("id_ed25519"),
            known_hosts: dir.path().join("known_hosts"),
            dir,
            hosts: Vec::new(),
            jump_host: None,
            unreachable: String::new(),
        };
        let mut command = Command::new("bash");
        command
            .arg(script())
            .arg("up")
            .arg(testbed.dir.path())
            .arg(count.to_string());
        if jump {
            command.arg("--jump");
        }
        let output = command.output().expect("run scripts/testbed.sh");
        assert!(
            output.status.success(),
            "testbed.sh up failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let env = std::fs::read_to_string(testbed.dir.path().join("hosts.env")).expect("hosts.env");
        for line in env.lines() {
            let (key, value) = line.split_once('=').expect("KEY=value in hosts.env");
            match key {
                "J1" => testbed.jump_host = Some(value.to_owned()),
                "UNREACHABLE" => testbed.unreachable = value.to_owned(),
                _ => testbed.hosts.push(value.to_owned()),
            }
        }
        assert_eq!(testbed.hosts.len(), count, "hosts.env: {env}");
        assert_eq!(testbed.jump_host.is_some(), jump, "hosts.env: {env}");
        Some(testbed)
    }

    /// `root@address`, as an ssh destination.
    pub fn destination(&self, address: &str) -> SshDestination {
        format!("root@{address}").parse().expect("testbed address")
    }

    /// A target for `address` using the testbed's ssh_config (key and known_hosts), deploy
    /// root `/srv`, no jump.
    pub fn target(&self, address: &str) -> HostTarget {
        HostTarget {
            address: HostAddress::Ssh(self.destination(address)),
            root: PathBuf::from("/srv"),
            jump: None,
            ssh_config: Some(self.ssh_config.clone()),
            identity: None,
            host_binary: None,
            connect_timeout: Duration::from_secs(5),
            ssh_persist: Duration::ZERO,
        }
    }
}

impl Testbed {
    /// The directory holding the hosts' files: `<dir>/h1/srv` is h1's `/srv`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the sshd of host `name` (`h3`) and its sessions, as a crash would.
    pub fn stop_host(&self, name: &str) {
        self.host_command("stop-host", name);
    }

    /// Starts the sshd of host `name` again.
    pub fn start_host(&self, name: &str) {
        self.host_command("start-host", name);
    }

    fn host_command(&self, verb: &str, name: &str) {
        let output = Command::new("bash")
            .arg(script())
            .args([verb, &self.dir.path().display().to_string(), name])
            .output()
            .expect("run scripts/testbed.sh");
        assert!(
            output.status.success(),
            "testbed.sh {verb} {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Testbed {
    #[expect(
        clippy::print_stderr,
        reason = "drop cannot return its failure, only report it"
    )]
    fn drop(&mut self) {
        let output = Command::new("bash")
            .arg(script())
            .arg("down")
            .arg(self.dir.path())
            .output();
        // Once everything of the testbed is stopped, nothing can write a boot line again (a
        // deploy or a repairing daemon that was still running could, before). The crontab is
        // this machine's: the hosts share its spool.
        crate::harness::remove_boot_entries_under(self.dir.path());
        // No panic here: drop may run while a failed test is already unwinding.
        match output {
            Ok(output) if output.status.success() => {}
            Ok(output) => eprintln!(
                "testbed.sh down failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(error) => eprintln!("cannot run testbed.sh down: {error}"),
        }
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/testbed.sh")
}

//! A registry of a test's own (Debian's docker-registry) on a loopback port: this machine's,
//! or a test host's inside its network namespace. Killed, and its engine drop-in removed, on
//! drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestRegistry {
    pub port: u16,
    process: Child,
    dir: tempfile::TempDir,
    /// The namespace it runs in, when a test host's.
    netns: Option<String>,
    drop_in: Option<PathBuf>,
}

impl TestRegistry {
    /// Starts it on this machine's loopback, or on that of the network namespace `netns`.
    pub fn start(netns: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::harness::free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("registries.conf"),
            format!("[[registry]]\nlocation = \"127.0.0.1:{port}\"\ninsecure = true\n"),
        )
        .unwrap();
        let process = in_netns(netns, "docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry");
        Self {
            port,
            process,
            dir,
            netns: netns.map(str::to_owned),
            drop_in: None,
        }
    }

    /// Copies a local image into the registry as `name` (from inside its namespace), once it
    /// answers; returns the reference the engine pulls.
    pub fn push(&self, local: &str, name: &str) -> String {
        let reference = format!("127.0.0.1:{}/{name}", self.port);
        let started = Instant::now();
        loop {
            let copied = in_netns(self.netns.as_deref(), "skopeo")
                .args(["copy", "--quiet", "--dest-tls-verify=false"])
                .arg(format!("containers-storage:{local}"))
                .arg(format!("docker://{reference}"))
                .output()
                .unwrap();
            if copied.status.success() {
                return reference;
            }
            assert!(started.elapsed() < Duration::from_secs(15), "{copied:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A registries.conf letting the engine reach it over plain HTTP, for
    /// `CONTAINERS_REGISTRIES_CONF`.
    pub fn registries_conf(&self) -> String {
        self.dir
            .path()
            .join("registries.conf")
            .display()
            .to_string()
    }

    /// The same, as a drop-in every engine on this machine reads (a test host's engine gets
    /// no variable of the test's), removed on drop.
    pub fn install_drop_in(&mut self) {
        let path = PathBuf::from(format!(
            "/etc/containers/registries.conf.d/zz-hoist-test-{}.conf",
            self.port
        ));
        std::fs::copy(self.dir.path().join("registries.conf"), &path).unwrap();
        self.drop_in = Some(path);
    }
}

fn in_netns(netns: Option<&str>, program: &str) -> Command {
    match netns {
        Some(netns) => {
            let mut command = Command::new("ip");
            command.args(["netns", "exec", netns, program]);
            command
        }
        None => Command::new(program),
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        if let Some(path) = &self.drop_in {
            let _ = std::fs::remove_file(path);
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

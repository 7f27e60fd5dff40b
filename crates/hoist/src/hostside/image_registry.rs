//! Images built on the controller reach a remote host without any outside registry: the host
//! keeps a registry of its own (Debian's `docker-registry`, distribution 2.x) on loopback,
//! storing under `.hoist/registry/`, which the controller pushes to with `skopeo` through the
//! SSH connection. A registry answers "have you this blob?" before each upload, so a redeploy
//! sends only the layers the host lacks. The host's engine then pulls from it over loopback
//! and tags the image as the controller named it (`localhost/hoist/<app>:<release>`).

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hostside::{atomic_fs, container_engine, proc_identity};

/// Program names of distribution's registry: Debian's, then upstream's.
const REGISTRY_PROGRAMS: [&str; 2] = ["docker-registry", "registry"];
const READY_WITHIN: Duration = Duration::from_secs(10);

/// `.hoist/registry.json`: the running registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RegistryRecord {
    pid: u32,
    start_ticks: u64,
    port: u16,
}

#[derive(Debug, Clone)]
pub struct ImageRegistry {
    dir: PathBuf,
}

impl ImageRegistry {
    pub fn new(root: &Path) -> Self {
        Self {
            dir: root.join(".hoist").join("registry"),
        }
    }

    fn record_path(&self) -> PathBuf {
        self.dir.join("registry.json")
    }

    /// The loopback port of the root's registry, started when it is not running.
    pub fn ensure(&self) -> Result<u16> {
        if let Some(record) = self.running()? {
            return Ok(record.port);
        }
        let program = registry_program()?;
        fs::create_dir_all(self.dir.join("data"))
            .map_err(|e| Error::io("create", &self.dir.join("data"), e))?;
        let port = free_loopback_port()?;
        let config = self.dir.join("config.yml");
        atomic_fs::write_file_atomic(&config, self.config(port).as_bytes(), 0o600)?;
        let log = self.dir.join("registry.log");
        let log_file = fs::File::create(&log).map_err(|e| Error::io("create", &log, e))?;
        let log_err = log_file
            .try_clone()
            .map_err(|e| Error::io("open", &log, e))?;
        let child = container_engine::engine_command(&program)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            // Its own group: it outlives the call that started it.
            .process_group(0)
            .spawn()
            .map_err(|e| Error::failed(format!("cannot start `{}`", program.display())).cause(e))?;
        let pid = child.id();
        crate::hostside::process_runtime::reap_later(child);
        let start_ticks = proc_identity::read(pid).map_or(0, |stat| stat.start_ticks);
        let record = RegistryRecord {
            pid,
            start_ticks,
            port,
        };
        let started = Instant::now();
        while !answers(port) {
            if !proc_identity::is_same_running(pid, start_ticks) || started.elapsed() > READY_WITHIN
            {
                let text = fs::read_to_string(&log).unwrap_or_default();
                return Err(Error::failed("the host's image registry did not start")
                    .cause(text.lines().rev().take(10).collect::<Vec<_>>().join("\n"))
                    .hint(format!("see `{}`", log.display())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let json = serde_json::to_vec(&record)
            .map_err(|e| Error::internal("cannot encode the registry record").cause(e))?;
        atomic_fs::write_file_atomic(&self.record_path(), &json, 0o600)?;
        Ok(port)
    }

    /// The recorded registry, when it is still the same process and answers.
    fn running(&self) -> Result<Option<RegistryRecord>> {
        let path = self.record_path();
        let Ok(bytes) = fs::read(&path) else {
            return Ok(None);
        };
        let Ok(record) = serde_json::from_slice::<RegistryRecord>(&bytes) else {
            return Ok(None);
        };
        let alive = proc_identity::is_same_running(record.pid, record.start_ticks);
        Ok((alive && answers(record.port)).then_some(record))
    }

    /// Stops the registry (destroy); its storage goes with the root.
    pub fn stop(&self) -> Result<()> {
        if let Some(record) = self.running()? {
            crate::hostside::process_runtime::terminate_group(
                record.pid,
                record.start_ticks,
                "the image registry",
                Duration::from_secs(2),
            )?;
        }
        Ok(())
    }

    /// Pulls `name` (`hoist/<app>:<release>`) from the registry into the engine's storage,
    /// tagged `localhost/<name>`.
    pub fn pull(&self, name: &str, engine: Option<&str>) -> Result<()> {
        let port = self.ensure()?;
        let engine = container_engine::engine_program(engine)?;
        let source = format!("127.0.0.1:{port}/{name}");
        let target = format!("localhost/{name}");
        let is_podman = engine.file_name().is_some_and(|n| n == "podman");
        // Two roots on one host may pull the same image at once, and the engine's storage can
        // lose a fresh name to the other's untag: pulled again then.
        let mut tagged = Err(Error::internal("not tried"));
        for _ in 0..3 {
            let mut pull = container_engine::engine_command(&engine);
            pull.arg("pull").arg("--quiet");
            if is_podman {
                pull.arg("--tls-verify=false");
            }
            run(pull.arg(&source), "pull the image from the host's registry")?;
            tagged = run(
                container_engine::engine_command(&engine).args(["tag", &source, &target]),
                "tag the image",
            );
            if tagged.is_ok() {
                break;
            }
        }
        tagged?;
        // The registry's name for it is only the way in.
        run(
            container_engine::engine_command(&engine).args(["rmi", &source]),
            "untag the registry's name",
        )?;
        Ok(())
    }

    fn config(&self, port: u16) -> String {
        format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            self.dir.join("data").display()
        )
    }
}

fn run(command: &mut Command, what: &str) -> Result<()> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::failed(format!("cannot {what}")).cause(e))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::failed(format!("cannot {what}"))
        .cause(String::from_utf8_lossy(&output.stderr).trim().to_owned()))
}

fn registry_program() -> Result<PathBuf> {
    let path = container_engine::engine_path();
    for name in REGISTRY_PROGRAMS {
        for dir in std::env::split_paths(&path) {
            let program = dir.join(name);
            if program.is_file() {
                return Ok(program);
            }
        }
    }
    Err(Error::failed(
        "no image registry program on this host (looked for docker-registry, registry)",
    )
    .hint("install it on the host: `apt-get install docker-registry`; images built on the controller travel through it"))
}

fn free_loopback_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::failed("cannot find a free loopback port").cause(e))?;
    listener
        .local_addr()
        .map(|address| address.port())
        .map_err(|e| Error::failed("cannot find a free loopback port").cause(e))
}

fn answers(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
}

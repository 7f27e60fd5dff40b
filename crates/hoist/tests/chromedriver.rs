//! The ChromeDriver under `browser::Browser`: Debian's `chromedriver` on a free loopback port,
//! in a process group of its own that also holds the Chromium it starts, all of it killed when
//! dropped — and when the test process dies without dropping it (a panic that aborts, a
//! SIGKILL from a timeout): a watchdog shell leads the group and kills it once its stdin, held
//! open by the test, closes.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tempfile::TempDir;

use crate::harness::free_port;
use crate::http_client::{self, Patience};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// `$1 --port=$2`, its output to `$3`; prints its pid, then waits for stdin to close and kills
/// the whole group (itself included). Background jobs of a non-interactive shell read
/// /dev/null, so only the shell itself holds the test's pipe.
const WATCHDOG: &str = r#"
"$1" --port="$2" >"$3" 2>&1 </dev/null &
echo "$!"
read -r _ || true
kill -s KILL 0
"#;

pub struct ChromeDriver {
    /// The watchdog shell: the group's leader, so its pid is the group's id.
    watchdog: Child,
    driver_pid: u32,
    /// Where WebDriver is served, `http://127.0.0.1:PORT`.
    pub url: String,
    /// Chromium's profile (`--user-data-dir`) and ChromeDriver's output.
    temp: TempDir,
}

impl ChromeDriver {
    /// Starts ChromeDriver (with `TZ` set for it and its Chromium when `time_zone` is given)
    /// and waits until it reports ready; tries another port if it exits at once.
    pub fn start(time_zone: Option<&str>) -> Self {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "the browser tests need `{binary}` (Debian's chromium and chromium-driver), \
                 and it is missing\nhint: run scripts/test once to install them \
                 (apt-get install chromium chromium-driver)"
            );
        }
        let mut last_log = String::new();
        for _ in 0..3 {
            let mut driver = Self::spawn(time_zone);
            match driver.wait_ready(Duration::from_secs(20)) {
                Ok(()) => return driver,
                Err(log) => last_log = log,
            }
        }
        panic!("chromedriver did not start (three ports tried); its output:\n{last_log}");
    }

    fn spawn(time_zone: Option<&str>) -> Self {
        let temp = tempfile::Builder::new()
            .prefix("hoist-browser-")
            .tempdir()
            .expect("temp dir for the browser");
        std::fs::create_dir(temp.path().join("profile")).expect("profile dir");
        let port = free_port();
        let log = temp.path().join("chromedriver.log");
        let mut command = Command::new("sh");
        command
            .args(["-c", WATCHDOG, "watchdog", CHROMEDRIVER, &port.to_string()])
            .arg(&log)
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(zone) = time_zone {
            command.env("TZ", zone);
        }
        let mut watchdog = command.spawn().expect("spawn sh for chromedriver");
        let mut line = String::new();
        BufReader::new(watchdog.stdout.take().expect("watchdog stdout"))
            .read_line(&mut line)
            .expect("read chromedriver's pid");
        let driver_pid = line.trim().parse().expect("chromedriver's pid");
        Self {
            watchdog,
            driver_pid,
            url: format!("http://127.0.0.1:{port}"),
            temp,
        }
    }

    /// `Ok` once `GET /status` says ready; `Err` with ChromeDriver's output when it exited.
    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let address: SocketAddr = self
            .url
            .trim_start_matches("http://")
            .parse()
            .expect("loopback address");
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(answer) = http_client::get(address, "/status", Patience::TEST) {
                let status: serde_json::Value =
                    serde_json::from_str(&answer.body).unwrap_or_default();
                if status["value"]["ready"] == true {
                    return Ok(());
                }
            }
            if !running(self.driver_pid) {
                return Err(self.log());
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver at {} is not ready after {limit:?}; its output:\n{}",
                self.url,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Chromium's profile directory, fresh for this driver.
    pub fn profile(&self) -> PathBuf {
        self.temp.path().join("profile")
    }

    /// The live processes of its group and those naming its profile: ChromeDriver and every
    /// Chromium process it started.
    pub fn processes(&self) -> Vec<u32> {
        let group = self.watchdog.id().to_string();
        let mut all = processes_naming(&self.profile().to_string_lossy());
        all.extend(live_pids().filter(|pid| {
            // `pid (comm) state ppid pgrp …`: comm may hold spaces, so look after its `)`.
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
                rest.split_whitespace().nth(2) == Some(group.as_str())
            })
        }));
        all.retain(|pid| *pid != self.watchdog.id());
        all.sort_unstable();
        all.dedup();
        all
    }

    /// What ChromeDriver printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.temp.path().join("chromedriver.log")).unwrap_or_default()
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let group = Pid::from_raw(self.watchdog.id() as i32);
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.watchdog.wait();
        // A Chromium process that left the group would still name its profile.
        let profile = self.profile();
        for pid in processes_naming(&profile.to_string_lossy()) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

/// Whether `pid` exists and is not a zombie.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
        !state.is_some_and(|rest| rest.starts_with('Z') || rest.starts_with('X'))
    })
}

/// Every live process.
fn live_pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| running(*pid))
}

/// The live processes whose command line contains `needle`.
fn processes_naming(needle: &str) -> Vec<u32> {
    live_pids()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|line| String::from_utf8_lossy(&line).contains(needle))
        })
        .collect()
}

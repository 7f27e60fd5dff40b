//! Benchmarks of the scheduler inside `hoist serve`, against a real daemon process:
//!
//! - `lateness`: COUNT `create` commands (one per environment) spread evenly over a window
//!   are written to the store; a `hoist serve` runs them; prints how late each started
//!   (`started_at − execute_at`, both as recorded): p50, p99, max.
//! - `memory`: COUNT commands scheduled an hour ahead; prints the daemon's resident memory
//!   (VmRSS, VmHWM) once it has settled, next to an idle daemon on an empty store.
//!
//! `schedule_bench lateness|memory sqlite|postgres HOIST_BINARY [COUNT] [WINDOW_MS]`
//! PostgreSQL is a throwaway local server (the tests' own: unix socket, fsync off).

#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark program prints its results"
)]

#[path = "../src/adapters/postgres_store/test_server.rs"]
#[expect(dead_code, reason = "the benchmark uses part of the test fixture")]
mod test_server;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hoist::adapters::postgres_store::PostgresStore;
use hoist::adapters::sqlite_store::SqliteStore;
use hoist::adapters::udp_wake::UdpWake;
use hoist::ports::controller_wake::ControllerWake;
use hoist::ports::store::{CommandFilter, NewCommand, Store};
use hoist_core::{Action, CommandStatus, EnvName};
use jiff::{SignedDuration, Timestamp};

type Outcome<T> = Result<T, Box<dyn Error>>;

fn main() -> Outcome<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage =
        "usage: schedule_bench lateness|memory sqlite|postgres HOIST_BINARY [COUNT] [WINDOW_MS]";
    let (Some(mode), Some(kind), Some(hoist)) = (args.get(1), args.get(2), args.get(3)) else {
        return Err(usage.into());
    };
    let count: usize = args.get(4).map_or(Ok(1000), |n| n.parse())?;
    let window_ms: i64 = args.get(5).map_or(Ok(10_000), |n| n.parse())?;
    let temp = tempfile::Builder::new().prefix("hoist-bench-").tempdir()?;
    let bench = Bench::new(temp.path(), kind, Path::new(hoist), count)?;
    match mode.as_str() {
        "lateness" => bench.lateness(count, window_ms),
        "memory" => bench.memory(count),
        _ => Err(usage.into()),
    }
}

struct Bench {
    dir: PathBuf,
    hoist: PathBuf,
    kind: String,
    state: String,
    spec: PathBuf,
}

impl Bench {
    fn new(dir: &Path, kind: &str, hoist: &Path, envs: usize) -> Outcome<Self> {
        let state = match kind {
            "sqlite" => dir.join("state.db").display().to_string(),
            "postgres" => test_server::TestServer::shared().fresh_database(),
            other => return Err(format!("unknown store `{other}`: sqlite or postgres").into()),
        };
        let mut spec = String::from("[app]\nname = \"bench\"\n");
        for n in 0..envs.max(1) {
            spec.push_str(&format!(
                "\n[env.e{n}]\nhosts = [\"local:{}/e{n}\"]\n",
                dir.display()
            ));
        }
        let spec_path = dir.join("Hoist.toml");
        std::fs::write(&spec_path, spec)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            hoist: hoist.to_path_buf(),
            kind: kind.to_owned(),
            state,
            spec: spec_path,
        })
    }

    fn store(&self) -> Outcome<Box<dyn Store>> {
        Ok(match self.kind.as_str() {
            "postgres" => Box::new(PostgresStore::open(&self.state)?),
            _ => Box::new(SqliteStore::open(Path::new(&self.state))?),
        })
    }

    /// Writes one `create` per environment, at `first + i·step`.
    fn schedule(
        &self,
        store: &dyn Store,
        count: usize,
        first: Timestamp,
        step_us: i64,
    ) -> Outcome<()> {
        for n in 0..count {
            let env: EnvName = format!("e{n}").parse()?;
            let offset = i64::try_from(n)? * step_us;
            let at = first + SignedDuration::from_micros(offset);
            store.insert_command(&NewCommand {
                kind: Action::Create,
                args: serde_json::json!({ "kind": "create", "env": env }),
                env,
                requested_by: "bench".to_owned(),
                status: CommandStatus::Scheduled,
                execute_at: Some(at),
                expires_at: Some(at + SignedDuration::from_mins(15)),
                requested_token: None,
                created_at: Timestamp::now(),
            })?;
        }
        Ok(())
    }

    fn serve(&self) -> Outcome<Daemon> {
        let log = self.dir.join("serve.log");
        let child = Command::new(&self.hoist)
            .args([
                "-f",
                &self.spec.display().to_string(),
                "--state",
                &self.state,
                "serve",
                "--listen",
                "127.0.0.1:0",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let daemon = Daemon { child, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !std::fs::read_to_string(&daemon.log)?.contains("serving") {
            if Instant::now() > deadline {
                return Err(format!("hoist serve did not start:\n{}", daemon.log_text()).into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(daemon)
    }

    fn lateness(&self, count: usize, window_ms: i64) -> Outcome<()> {
        let store = self.store()?;
        let step_us = window_ms * 1000 / i64::try_from(count.max(1))?;
        // Far enough ahead for the writes and the daemon's start.
        // The daemon runs first, as in use: the commands arrive while it sleeps, and it is
        // woken the way the CLI wakes it. The first is due after all are written.
        let daemon = self.serve()?;
        let started = Instant::now();
        let first =
            Timestamp::now() + SignedDuration::from_millis(2000 + i64::try_from(count)? * 5);
        self.schedule(store.as_ref(), count, first, step_us)?;
        UdpWake.wake(&store.controllers()?);
        if Timestamp::now() >= first {
            return Err(format!(
                "writing took {:?}: past the first command's time",
                started.elapsed()
            )
            .into());
        }
        let deadline = Instant::now()
            + Duration::from_millis(u64::try_from(window_ms)?)
            + Duration::from_secs(120);
        // Quiet while the commands are due, so the measuring process takes no CPU from the
        // daemon; then a cheap check until none waits, then one full read.
        if let Ok(left) = Duration::try_from(
            (first + SignedDuration::from_millis(window_ms)).duration_since(Timestamp::now()),
        ) {
            std::thread::sleep(left);
        }
        let waiting = |status| {
            store.commands(&CommandFilter {
                status: Some(status),
                limit: 1,
                ..CommandFilter::default()
            })
        };
        let commands = loop {
            if waiting(CommandStatus::Scheduled)?.is_empty()
                && waiting(CommandStatus::Running)?.is_empty()
            {
                break store.commands(&CommandFilter::default())?;
            }
            if Instant::now() > deadline {
                return Err(format!("commands still waiting:\n{}", daemon.log_text()).into());
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let mut late_ms: Vec<f64> = Vec::new();
        let mut failed = 0;
        for command in &commands {
            if command.status != CommandStatus::Succeeded {
                failed += 1;
            }
            if let (Some(started), Some(due)) = (command.started_at, command.execute_at) {
                late_ms.push(started.duration_since(due).as_secs_f64() * 1000.0);
            }
        }
        if std::env::var_os("BENCH_DUMP").is_some() {
            let mut rows: Vec<(Timestamp, f64)> = commands
                .iter()
                .filter_map(|c| {
                    Some((
                        c.execute_at?,
                        c.started_at?.duration_since(c.execute_at?).as_secs_f64() * 1000.0,
                    ))
                })
                .collect();
            rows.sort_by_key(|row| row.0);
            for (at, late) in rows {
                eprintln!("{at} {late:.1}");
            }
        }
        late_ms.sort_by(f64::total_cmp);
        let early = late_ms.iter().filter(|&&ms| ms < 0.0).count();
        println!(
            "lateness {} count={count} window={window_ms}ms started={} not-succeeded={failed} early={early} \
             p50={:.1}ms p99={:.1}ms max={:.1}ms",
            self.kind,
            late_ms.len(),
            percentile(&late_ms, 0.50),
            percentile(&late_ms, 0.99),
            late_ms.last().copied().unwrap_or(f64::NAN)
        );
        daemon.stop();
        Ok(())
    }

    fn memory(&self, count: usize) -> Outcome<()> {
        let store = self.store()?;
        let idle = self.serve()?;
        std::thread::sleep(Duration::from_secs(2));
        let (idle_rss, idle_hwm) = idle.memory()?;
        idle.stop();
        self.schedule(
            store.as_ref(),
            count,
            Timestamp::now() + SignedDuration::from_hours(1),
            1000,
        )?;
        let daemon = self.serve()?;
        std::thread::sleep(Duration::from_secs(2));
        let (rss, hwm) = daemon.memory()?;
        daemon.stop();
        println!(
            "memory {} scheduled={count} rss={:.1}MB hwm={:.1}MB (idle, empty store: rss={:.1}MB hwm={:.1}MB)",
            self.kind,
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0,
            idle_rss as f64 / 1024.0,
            idle_hwm as f64 / 1024.0
        );
        Ok(())
    }
}

struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// VmRSS and VmHWM in KiB.
    fn memory(&self) -> Outcome<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        Ok((field("VmRSS:"), field("VmHWM:")))
    }

    fn stop(mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

//! The boot entry of a deploy root: what runs `hoist host --root R boot` when the host starts
//! (the proxy, the supervisor, and through it the recorded instances). A systemd unit where
//! systemd is PID 1 and hoist runs as root; otherwise an `@reboot` line in the user's crontab,
//! marked with the root's id so several roots of one user each keep their own line.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};
use crate::hostside::atomic_fs;
use crate::hostside::hoist_binary::hoist_binary;
use crate::hostside::root_id;
use crate::ports::supervisor::{BootEntry, BootEntryKind};

/// Where systemd keeps units an administrator installs.
const SYSTEMD_UNIT_DIR: &str = "/etc/systemd/system";

/// How boot entries are made on this host; `detect` reads the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootMethod {
    Systemd {
        unit_dir: PathBuf,
        systemctl: PathBuf,
    },
    Crontab {
        crontab: PathBuf,
    },
    Unavailable {
        why: String,
    },
}

impl BootMethod {
    pub fn detect() -> Self {
        let systemd_is_init = Path::new("/run/systemd/system").is_dir();
        let root = nix::unistd::geteuid().is_root();
        if systemd_is_init
            && root
            && let Some(systemctl) = find_on_path("systemctl")
        {
            return Self::Systemd {
                unit_dir: PathBuf::from(SYSTEMD_UNIT_DIR),
                systemctl,
            };
        }
        match find_on_path("crontab") {
            Some(crontab) => Self::Crontab { crontab },
            None => Self::Unavailable {
                why:
                    "neither systemd (as PID 1, for root) nor `crontab` is available; install cron"
                        .to_owned(),
            },
        }
    }
}

#[derive(Debug, Clone)]
pub struct BootEntries {
    root: PathBuf,
    method: BootMethod,
}

impl BootEntries {
    pub fn new(root: &Path) -> Self {
        Self::with_method(root, BootMethod::detect())
    }

    pub fn with_method(root: &Path, method: BootMethod) -> Self {
        Self {
            root: root.to_path_buf(),
            method,
        }
    }

    fn marker(&self) -> Result<String> {
        Ok(format!(
            "# hoist-boot {}",
            root_id::read_or_create(&self.root)?
        ))
    }

    fn unit_name(&self) -> Result<String> {
        Ok(format!(
            "hoist-{}.service",
            root_id::read_or_create(&self.root)?
        ))
    }

    /// The command the entry runs.
    fn boot_command(&self) -> Result<(PathBuf, String)> {
        let binary = hoist_binary(&self.root)?;
        let line = format!(
            "{} host --root {} boot",
            hoist_core::shell::quote(&binary.to_string_lossy()),
            hoist_core::shell::quote(&self.root.to_string_lossy())
        );
        Ok((binary, line))
    }

    pub fn state(&self) -> Result<BootEntry> {
        match &self.method {
            BootMethod::Unavailable { why } => Ok(BootEntry {
                kind: BootEntryKind::Unavailable,
                installed: false,
                detail: why.clone(),
            }),
            BootMethod::Crontab { crontab } => {
                let marker = self.marker()?;
                let current = read_crontab(crontab)?;
                let line = current.lines().find(|line| line.ends_with(&marker));
                let (installed, detail) = match line {
                    Some(line) if self.names_current_binary(line)? => {
                        (true, format!("@reboot in the crontab of {}", user()))
                    }
                    Some(_) => (
                        false,
                        "the crontab line names another hoist binary; `hoist deploy` rewrites it"
                            .to_owned(),
                    ),
                    None => (
                        false,
                        format!("no @reboot line in the crontab of {}", user()),
                    ),
                };
                Ok(BootEntry {
                    kind: BootEntryKind::Crontab,
                    installed,
                    detail,
                })
            }
            BootMethod::Systemd {
                unit_dir,
                systemctl,
            } => {
                let unit = unit_dir.join(self.unit_name()?);
                let written = fs::read_to_string(&unit).ok();
                let expected = self.unit_text()?;
                let enabled = Command::new(systemctl)
                    .args(["is-enabled", "--quiet"])
                    .arg(self.unit_name()?)
                    .stdin(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success());
                let installed = written.as_deref() == Some(expected.as_str()) && enabled;
                let detail = match (written.is_some(), enabled) {
                    (true, true) if installed => format!("systemd unit {}", unit.display()),
                    (true, _) => {
                        format!("systemd unit {} is out of date or disabled", unit.display())
                    }
                    (false, _) => format!("no systemd unit {}", unit.display()),
                };
                Ok(BootEntry {
                    kind: BootEntryKind::Systemd,
                    installed,
                    detail,
                })
            }
        }
    }

    /// Whether a crontab line runs the binary hoist would use now.
    fn names_current_binary(&self, line: &str) -> Result<bool> {
        let (_, command) = self.boot_command()?;
        Ok(line.contains(&escape_cron(&command)))
    }

    pub fn install(&self) -> Result<BootEntry> {
        match &self.method {
            BootMethod::Unavailable { .. } => {}
            BootMethod::Crontab { crontab } => {
                let marker = self.marker()?;
                let (_, command) = self.boot_command()?;
                let line = format!("@reboot {} >/dev/null 2>&1 {marker}", escape_cron(&command));
                edit_crontab(crontab, |lines| {
                    lines.retain(|existing| !existing.ends_with(&marker));
                    lines.push(line.clone());
                })?;
            }
            BootMethod::Systemd {
                unit_dir,
                systemctl,
            } => {
                fs::create_dir_all(unit_dir).map_err(|e| Error::io("create", unit_dir, e))?;
                let unit = unit_dir.join(self.unit_name()?);
                atomic_fs::write_file_atomic(&unit, self.unit_text()?.as_bytes(), 0o644)?;
                run(systemctl, &["daemon-reload"])?;
                run(systemctl, &["enable", "--quiet", &self.unit_name()?])?;
            }
        }
        self.state()
    }

    /// Removes the entry; true if there was one.
    pub fn remove(&self) -> Result<bool> {
        match &self.method {
            BootMethod::Unavailable { .. } => Ok(false),
            BootMethod::Crontab { crontab } => {
                let marker = self.marker()?;
                let mut removed = false;
                edit_crontab(crontab, |lines| {
                    let before = lines.len();
                    lines.retain(|existing| !existing.ends_with(&marker));
                    removed = lines.len() != before;
                })?;
                Ok(removed)
            }
            BootMethod::Systemd {
                unit_dir,
                systemctl,
            } => {
                let unit = unit_dir.join(self.unit_name()?);
                if !unit.exists() {
                    return Ok(false);
                }
                run(systemctl, &["disable", "--quiet", &self.unit_name()?])?;
                fs::remove_file(&unit).map_err(|e| Error::io("remove", &unit, e))?;
                run(systemctl, &["daemon-reload"])?;
                Ok(true)
            }
        }
    }

    fn unit_text(&self) -> Result<String> {
        let (binary, _) = self.boot_command()?;
        Ok(format!(
            "# Written by hoist: starts the deploy root {root} at boot.\n\
             [Unit]\n\
             Description=hoist deploy root {root}\n\
             After=network-online.target\n\
             Wants=network-online.target\n\
             \n\
             [Service]\n\
             Type=oneshot\n\
             RemainAfterExit=yes\n\
             # The proxy, the supervisor and the instances outlive this start command.\n\
             KillMode=process\n\
             ExecStart={binary} host --root {root} boot\n\
             \n\
             [Install]\n\
             WantedBy=multi-user.target\n",
            root = systemd_quote(&self.root.to_string_lossy()),
            binary = systemd_quote(&binary.to_string_lossy()),
        ))
    }
}

/// `%` starts a new line in a crontab command.
fn escape_cron(command: &str) -> String {
    command.replace('%', "\\%")
}

fn systemd_quote(text: &str) -> String {
    match text.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
        true => format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")),
        false => text.to_owned(),
    }
}

fn user() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map_or_else(
            || format!("uid {}", nix::unistd::geteuid()),
            |user| user.name,
        )
}

/// `crontab -l`; no crontab yet is an empty one.
fn read_crontab(crontab: &Path) -> Result<String> {
    let output = Command::new(crontab)
        .arg("-l")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::failed("cannot run `crontab -l`").cause(e))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("no crontab") {
        return Ok(String::new());
    }
    Err(Error::failed("`crontab -l` failed").cause(stderr.trim().to_owned()))
}

/// Reads, changes and writes the user's crontab under a per-user lock, so two roots being
/// provisioned at once do not lose each other's line.
fn edit_crontab(crontab: &Path, change: impl FnOnce(&mut Vec<String>)) -> Result<()> {
    let _lock = crontab_lock()?;
    let current = read_crontab(crontab)?;
    let mut lines: Vec<String> = current.lines().map(str::to_owned).collect();
    let before = lines.clone();
    change(&mut lines);
    if lines == before {
        return Ok(());
    }
    let mut text = lines.join("\n");
    text.push('\n');
    let mut child = Command::new(crontab)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::failed("cannot run `crontab -`").cause(e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|e| Error::failed("cannot write the crontab").cause(e))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| Error::failed("`crontab -` failed").cause(e))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(Error::failed("`crontab -` refused the new crontab")
            .cause(String::from_utf8_lossy(&output.stderr).trim().to_owned())),
    }
}

/// The lock that serializes edits of this user's crontab. A crontab belongs to a uid, not to
/// a home directory: `$HOME` differs between a login, `sudo` and cron (and between testbed
/// hosts, which share this machine's crontab but each have their own `/root`), and two
/// processes locking different files lose each other's lines. So the lock is one file per uid
/// in `/tmp`; only when that name is taken by something that is not our own regular file (a
/// symlink, another user's file) does it fall back to the home directory's lock.
fn crontab_lock() -> Result<Flock<File>> {
    let uid = nix::unistd::geteuid();
    let shared = Path::new("/tmp").join(format!("hoist-crontab-{uid}.lock"));
    let file = match open_own_lock_file(&shared) {
        Some(file) => file,
        None => {
            let dir = std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache").join("hoist"))
                .unwrap_or_else(|| std::env::temp_dir().join(format!("hoist-{uid}")));
            fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
            let path = dir.join("crontab.lock");
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| Error::io("open", &path, e))?
        }
    };
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| Error::failed("cannot lock the crontab").cause(errno))
}

/// `path` opened (created 0600 if missing) when it is a regular file of this uid; never
/// through a symlink.
fn open_own_lock_file(path: &Path) -> Option<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    (meta.is_file() && meta.uid() == nix::unistd::geteuid().as_raw()).then_some(file)
}

fn run(program: &Path, args: &[&str]) -> Result<()> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::failed(format!("cannot run `{}`", program.display())).cause(e))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(Error::failed(format!(
            "`{} {}` failed ({})",
            program.display(),
            args.join(" "),
            output.status
        ))
        .cause(String::from_utf8_lossy(&output.stderr).trim().to_owned())),
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests;

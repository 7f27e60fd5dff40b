//! Which directories may be a deploy root. hoist lays its tree out in the root and `destroy`
//! deletes that tree again, so a root must be a directory of its own: never `/`, never a
//! directory the system owns, never a home directory itself. Paths are compared after
//! lexical normalisation (`//`, `.` and `..` segments), so `/srv/../etc` is `/etc`.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// Owned by the operating system as a whole, with everything below them: its programs and
/// libraries (the package manager's), its configuration, the boot loader's files and the
/// kernel's virtual filesystems (`/dev`, `/proc`, `/sys`, and `/run`, a tmpfs emptied at
/// boot). A release there would mix with the system's files or vanish at the next boot.
const SYSTEM_TREES: &[&str] = &[
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run",
    "/sbin", "/sys", "/usr", "/var/run",
];

/// Shared parents: other programs and users keep their own directories in them, so a
/// subdirectory is a fine root (`/srv/app`, `/var/www/app`, `/opt/app`, `/usr/local/app`)
/// but the directory itself is not.
const SHARED_PARENTS: &[&str] = &[
    "/home",
    "/media",
    "/mnt",
    "/opt",
    "/srv",
    "/tmp",
    "/usr/local",
    "/usr/local/bin",
    "/usr/local/etc",
    "/usr/local/include",
    "/usr/local/lib",
    "/usr/local/sbin",
    "/usr/local/share",
    "/usr/local/src",
    "/var",
    "/var/cache",
    "/var/lib",
    "/var/log",
    "/var/mail",
    "/var/opt",
    "/var/spool",
    "/var/tmp",
    "/var/www",
];

/// Why a path cannot be a deploy root, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootRefusal {
    /// The path as normalised.
    pub path: PathBuf,
    pub reason: RefusalReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalReason {
    /// `/` itself.
    FilesystemRoot,
    /// A directory the system owns, or something below one.
    System { owner: &'static str },
    /// A directory that holds other programs' or users' directories.
    SharedParent,
    /// `/home/NAME` or `/root`: someone's home directory itself.
    Home,
}

impl fmt::Display for RootRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.reason {
            RefusalReason::FilesystemRoot => write!(f, "the deploy root cannot be `/`"),
            RefusalReason::System { owner } if Path::new(owner) == self.path => write!(
                f,
                "the deploy root `{path}` is a system directory: the operating system owns it"
            ),
            RefusalReason::System { owner } => write!(
                f,
                "the deploy root `{path}` is inside `{owner}`, which the operating system owns"
            ),
            RefusalReason::SharedParent => write!(
                f,
                "the deploy root `{path}` is a shared system directory, not a directory of its own"
            ),
            RefusalReason::Home => write!(
                f,
                "the deploy root `{path}` is a home directory itself: hoist would lay its tree out among its files"
            ),
        }
    }
}

impl RootRefusal {
    /// What to write instead, for `app` (the spec's app name).
    pub fn hint(&self, app: &str) -> String {
        let app = if app.is_empty() { "my-app" } else { app };
        match &self.reason {
            RefusalReason::Home => format!(
                "deploy into a directory of its own inside it, like `{}`",
                self.path.join(app).display()
            ),
            RefusalReason::SharedParent => format!(
                "deploy into a directory of its own inside it, like `{}`",
                self.path.join(app).display()
            ),
            RefusalReason::FilesystemRoot | RefusalReason::System { .. } => {
                format!("deploy into a directory of its own, like `/srv/{app}` or `/var/www/{app}`")
            }
        }
    }
}

/// Why `path` (absolute) cannot be a deploy root, or `None` when it can.
pub fn refusal(path: &Path) -> Option<RootRefusal> {
    let normal = normalise(path);
    let refuse = |reason| {
        Some(RootRefusal {
            path: normal.clone(),
            reason,
        })
    };
    if normal.parent().is_none() {
        return refuse(RefusalReason::FilesystemRoot);
    }
    // `/usr/local` is the administrator's, not the package manager's.
    let administrators = normal.starts_with("/usr/local");
    if let Some(owner) = SYSTEM_TREES
        .iter()
        .find(|tree| normal.starts_with(tree) && !(administrators && **tree == "/usr"))
    {
        return refuse(RefusalReason::System { owner });
    }
    if normal == Path::new("/root") || normal.parent() == Some(Path::new("/home")) {
        return refuse(RefusalReason::Home);
    }
    if SHARED_PARENTS
        .iter()
        .any(|parent| normal == Path::new(parent))
    {
        return refuse(RefusalReason::SharedParent);
    }
    None
}

/// `path` with `.` and empty segments dropped and each `..` taking one segment back, as the
/// kernel would resolve it when no symlink is involved. Relative paths are read from `/`.
pub fn normalise(path: &Path) -> PathBuf {
    let mut normal = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(segment) => normal.push(segment),
            Component::ParentDir => {
                normal.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    normal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(path: &str) -> Option<RefusalReason> {
        refusal(Path::new(path)).map(|r| r.reason)
    }

    #[test]
    fn directories_of_their_own_are_fine() {
        for ok in [
            "/srv/app",
            "/srv/app/dev",
            "/var/www/app",
            "/var/lib/app",
            "/opt/app",
            "/home/alice/app",
            "/root/app",
            "/tmp/hoist/hello/dev",
            "/usr/local/app",
            "/usr/local/share/app",
            "/data",
            "/etcetera",
            "/srv/../data/app",
        ] {
            assert_eq!(refusal(Path::new(ok)), None, "{ok}");
        }
    }

    #[test]
    fn system_directories_and_everything_below_them_are_refused() {
        for (bad, owner) in [
            ("/etc", "/etc"),
            ("/etc/app", "/etc"),
            ("/usr", "/usr"),
            ("/usr/bin", "/usr"),
            ("/usr/lib/app", "/usr"),
            ("/bin", "/bin"),
            ("/sbin", "/sbin"),
            ("/lib", "/lib"),
            ("/lib64", "/lib64"),
            ("/boot", "/boot"),
            ("/dev/shm/app", "/dev"),
            ("/proc", "/proc"),
            ("/sys/fs", "/sys"),
            ("/run/app", "/run"),
            ("/var/run/app", "/var/run"),
        ] {
            assert_eq!(reason(bad), Some(RefusalReason::System { owner }), "{bad}");
        }
    }

    #[test]
    fn shared_parents_homes_and_slash_are_refused_themselves() {
        for bad in [
            "/var",
            "/tmp",
            "/opt",
            "/srv",
            "/home",
            "/var/www",
            "/var/lib",
            "/usr/local",
            "/mnt",
            "/var/tmp",
        ] {
            assert_eq!(reason(bad), Some(RefusalReason::SharedParent), "{bad}");
        }
        for bad in ["/home/alice", "/root", "/home/alice/", "/root/."] {
            assert_eq!(reason(bad), Some(RefusalReason::Home), "{bad}");
        }
        for bad in ["/", "//", "/.", "/srv/..", "/srv/app/../../"] {
            assert_eq!(reason(bad), Some(RefusalReason::FilesystemRoot), "{bad}");
        }
    }

    #[test]
    fn paths_are_normalised_before_they_are_compared() {
        assert_eq!(normalise(Path::new("//srv/./app/")), Path::new("/srv/app"));
        assert_eq!(
            normalise(Path::new("/srv/app/../../etc")),
            Path::new("/etc")
        );
        assert_eq!(normalise(Path::new("/../../etc")), Path::new("/etc"));
        let refused = refusal(Path::new("/srv/app/../../etc")).unwrap();
        assert_eq!(refused.path, Path::new("/etc"));
        assert_eq!(
            refused.to_string(),
            "the deploy root `/etc` is a system directory: the operating system owns it"
        );
        assert_eq!(
            refused.hint("hello"),
            "deploy into a directory of its own, like `/srv/hello` or `/var/www/hello`"
        );
        let home = refusal(Path::new("/home/alice")).unwrap();
        assert_eq!(
            home.hint("hello"),
            "deploy into a directory of its own inside it, like `/home/alice/hello`"
        );
    }
}

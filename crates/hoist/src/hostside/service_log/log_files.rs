//! The logs of a directory: `NAME.log` and its rotated `NAME.log.N`, grouped by log, oldest
//! file first, each opened once. A rotation while they are opened is seen (`NAME.log` is a
//! new file afterwards) and the set is opened again, so what is read is one consistent set.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

/// Logs in `logs/` that are not the service's: the built-in proxy's own.
const NOT_SERVICE_LOGS: [&str; 2] = ["proxy", "supervisor"];
/// How often a listing is retried when rotations keep happening under it.
const ATTEMPTS: usize = 5;

/// One open file of a log.
#[derive(Debug)]
pub(super) struct LogFile {
    pub path: PathBuf,
    pub file: File,
    pub device: u64,
    pub inode: u64,
    pub len: u64,
    pub modified: Option<Timestamp>,
}

/// One log: its files, oldest first (`NAME.log.<keep>` … `NAME.log.1`, `NAME.log`).
#[derive(Debug)]
pub(super) struct LogFiles {
    pub name: String,
    pub files: Vec<LogFile>,
}

/// The service logs in `dir`, by name; none when it does not exist.
pub(super) fn list(dir: &Path) -> io::Result<Vec<LogFiles>> {
    let names = match fs::read_dir(dir) {
        Ok(entries) => log_names(entries)?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut logs = Vec::with_capacity(names.len());
    for (name, mut paths) in names {
        // Highest index first: the oldest file.
        paths.sort_by_key(|(index, _)| std::cmp::Reverse(*index));
        let files = open_consistent(dir, &name, &paths)?;
        if !files.is_empty() {
            logs.push(LogFiles { name, files });
        }
    }
    Ok(logs)
}

/// Log name → (rotation index, 0 for the current file; path).
fn log_names(entries: fs::ReadDir) -> io::Result<BTreeMap<String, Vec<(u32, PathBuf)>>> {
    let mut names: BTreeMap<String, Vec<(u32, PathBuf)>> = BTreeMap::new();
    for entry in entries {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some((name, index)) = file_name.to_str().and_then(parse_file_name) else {
            continue;
        };
        if name.is_empty() || name.starts_with('.') || NOT_SERVICE_LOGS.contains(&name) {
            continue;
        }
        names
            .entry(name.to_owned())
            .or_default()
            .push((index, entry.path()));
    }
    Ok(names)
}

/// `NAME.log` → (NAME, 0); `NAME.log.3` → (NAME, 3).
fn parse_file_name(file_name: &str) -> Option<(&str, u32)> {
    if let Some(name) = file_name.strip_suffix(".log") {
        return Some((name, 0));
    }
    let (base, index) = file_name.rsplit_once('.')?;
    let name = base.strip_suffix(".log")?;
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((name, index.parse().ok().filter(|index| *index > 0)?))
}

/// Opens `paths` (oldest first); again when `NAME.log` changed meanwhile (a rotation).
fn open_consistent(dir: &Path, name: &str, paths: &[(u32, PathBuf)]) -> io::Result<Vec<LogFile>> {
    let current = dir.join(format!("{name}.log"));
    let identity = |path: &Path| fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    let mut files = Vec::new();
    for _ in 0..ATTEMPTS {
        let before = identity(&current);
        files = open_all(paths)?;
        if identity(&current) == before {
            break;
        }
    }
    Ok(files)
}

fn open_all(paths: &[(u32, PathBuf)]) -> io::Result<Vec<LogFile>> {
    let mut files: Vec<LogFile> = Vec::with_capacity(paths.len());
    for (_, path) in paths {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        let metadata = file.metadata()?;
        if !metadata.is_file() {
            continue;
        }
        let (device, inode) = (metadata.dev(), metadata.ino());
        // A file renamed between two opens shows up twice: once is enough.
        if files.iter().any(|f| (f.device, f.inode) == (device, inode)) {
            continue;
        }
        files.push(LogFile {
            path: path.clone(),
            file,
            device,
            inode,
            len: metadata.len(),
            modified: metadata
                .modified()
                .ok()
                .and_then(|time| Timestamp::try_from(time).ok()),
        });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_name_their_log_and_rotation() {
        assert_eq!(parse_file_name("r1.log"), Some(("r1", 0)));
        assert_eq!(parse_file_name("r1.log.2"), Some(("r1", 2)));
        assert_eq!(parse_file_name("a.b.log.10"), Some(("a.b", 10)));
        for other in [
            "r1.log.",
            "r1.log.x",
            "r1.txt",
            "r1.log.0",
            "r1.log.tmp",
            "log",
        ] {
            assert_eq!(parse_file_name(other), None, "{other}");
        }
    }

    #[test]
    fn lists_logs_oldest_file_first_without_the_proxy() {
        let dir = tempfile::tempdir().unwrap();
        for (name, contents) in [
            ("b.log", "b0"),
            ("b.log.1", "b1"),
            ("b.log.2", "b2"),
            ("a.log", "a0"),
            ("proxy.log", "p"),
            ("proxy.log.1", "p1"),
            ("notes.txt", "n"),
        ] {
            fs::write(dir.path().join(name), contents).unwrap();
        }
        let logs = list(dir.path()).unwrap();
        let shown: Vec<(String, Vec<u64>)> = logs
            .iter()
            .map(|log| (log.name.clone(), log.files.iter().map(|f| f.len).collect()))
            .collect();
        assert_eq!(
            shown,
            vec![("a".to_owned(), vec![2]), ("b".to_owned(), vec![2, 2, 2])]
        );
        let contents: Vec<String> = logs[1]
            .files
            .iter()
            .map(|f| {
                let mut text = String::new();
                io::Read::read_to_string(&mut &f.file, &mut text).unwrap();
                text
            })
            .collect();
        assert_eq!(contents, ["b2", "b1", "b0"]);
        assert!(list(&dir.path().join("missing")).unwrap().is_empty());
    }
}

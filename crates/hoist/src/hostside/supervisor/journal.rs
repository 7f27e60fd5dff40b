//! The host's journal, `.hoist/journal.jsonl`: what the supervisor did and saw, one JSON
//! `HostEvent` per line, kept until the controller has moved it into the store's timeline
//! and acknowledged it (at least once: a controller dying in between sends some again).
//! Appends and acknowledgements take `.hoist/journal.lock`, so none is lost between them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};
use crate::hostside::atomic_fs;
use crate::ports::supervisor::HostEvent;

/// Beyond this many unacknowledged events the oldest go (a host nobody talks to for months).
const KEPT: usize = 10_000;

#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    lock_path: PathBuf,
}

impl Journal {
    pub fn new(root: &Path) -> Self {
        let dir = root.join(".hoist");
        Self {
            path: dir.join("journal.jsonl"),
            lock_path: dir.join("journal.lock"),
        }
    }

    fn lock(&self) -> Result<Flock<File>> {
        if let Some(dir) = self.lock_path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|e| Error::io("open", &self.lock_path, e))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| Error::failed("cannot lock the host journal").cause(errno))
    }

    /// Appends an event, numbering it after the last one.
    pub fn append(&self, mut event: HostEvent) -> Result<HostEvent> {
        let _lock = self.lock()?;
        let events = self.read_all()?;
        event.seq = events
            .last()
            .map_or(1, |last| last.seq + 1)
            .max(self.floor()? + 1);
        if events.len() >= KEPT {
            let keep: Vec<&HostEvent> = events.iter().skip(events.len() + 1 - KEPT).collect();
            self.rewrite(&keep)?;
        }
        // A line torn by a crash must not swallow this one.
        let torn =
            fs::read(&self.path).is_ok_and(|bytes| !bytes.is_empty() && !bytes.ends_with(b"\n"));
        let mut line = Vec::new();
        if torn {
            line.push(b'\n');
        }
        serde_json::to_writer(&mut line, &event)
            .map_err(|e| Error::internal("cannot encode a journal event").cause(e))?;
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::io("open", &self.path, e))?;
        file.write_all(&line)
            .map_err(|e| Error::io("write", &self.path, e))?;
        Ok(event)
    }

    /// Every event not acknowledged yet, oldest first.
    pub fn pending(&self) -> Result<Vec<HostEvent>> {
        // Reading never creates the root's `.hoist/` (a root not laid out yet has nothing).
        if !self.path.exists() {
            return Ok(Vec::new());
        }
        let _lock = self.lock()?;
        self.read_all()
    }

    /// Drops the events up to `seq`; numbering goes on after them.
    pub fn acknowledge(&self, seq: u64) -> Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        let _lock = self.lock()?;
        let events = self.read_all()?;
        let keep: Vec<&HostEvent> = events.iter().filter(|event| event.seq > seq).collect();
        if keep.len() == events.len() {
            return Ok(());
        }
        let floor = self.floor()?.max(seq);
        atomic_fs::write_file_atomic(&self.floor_path(), floor.to_string().as_bytes(), 0o644)?;
        self.rewrite(&keep)
    }

    /// The highest number ever acknowledged, so numbers are never reused after a truncation.
    fn floor(&self) -> Result<u64> {
        match fs::read_to_string(self.floor_path()) {
            Ok(text) => Ok(text.trim().parse().unwrap_or(0)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(error) => Err(Error::io("read", &self.floor_path(), error)),
        }
    }

    fn floor_path(&self) -> PathBuf {
        self.path.with_extension("acknowledged")
    }

    fn rewrite(&self, events: &[&HostEvent]) -> Result<()> {
        let mut text = Vec::new();
        for event in events {
            serde_json::to_writer(&mut text, event)
                .map_err(|e| Error::internal("cannot encode a journal event").cause(e))?;
            text.push(b'\n');
        }
        atomic_fs::write_file_atomic(&self.path, &text, 0o644)
    }

    /// Lines that do not parse (a write cut short by a crash) are skipped.
    fn read_all(&self) -> Result<Vec<HostEvent>> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(Error::io("read", &self.path, error)),
        };
        Ok(BufReader::new(file)
            .lines()
            .map_while(std::result::Result::ok)
            .filter_map(|line| serde_json::from_str(&line).ok())
            .collect())
    }
}

/// A journal event of `kind`, numbered when appended.
pub fn event(kind: &str, message: String) -> HostEvent {
    HostEvent {
        seq: 0,
        at: jiff::Timestamp::now().to_string(),
        kind: kind.to_owned(),
        slot: None,
        release: None,
        pid: None,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_numbered_kept_until_acknowledged_and_never_renumbered() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path());
        assert!(journal.pending().unwrap().is_empty());
        for n in 1..=3 {
            let appended = journal
                .append(event("instance.exited", format!("{n}")))
                .unwrap();
            assert_eq!(appended.seq, n);
        }
        journal.acknowledge(2).unwrap();
        let left: Vec<u64> = journal.pending().unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(left, [3]);
        journal.acknowledge(3).unwrap();
        assert!(journal.pending().unwrap().is_empty());
        // Numbering goes on after what was acknowledged, even with the file empty.
        assert_eq!(journal.append(event("boot", String::new())).unwrap().seq, 4);
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path());
        journal.append(event("boot", "one".to_owned())).unwrap();
        let path = dir.path().join(".hoist/journal.jsonl");
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"seq\":2,\"at\"").unwrap();
        assert_eq!(journal.pending().unwrap().len(), 1);
        journal.append(event("boot", "two".to_owned())).unwrap();
        let messages: Vec<String> = journal
            .pending()
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert_eq!(messages, ["one", "two"]);
    }
}

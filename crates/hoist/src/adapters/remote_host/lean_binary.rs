//! The copy of hoist that hosts run: the controller's binary cut after its last loaded
//! segment, with no section headers (what `sstrip` does: the loader needs only the program
//! headers, so debug information, symbols and section names stay on the controller),
//! compressed for the trip (zstd for hosts that have it: it unpacks ~3× faster than gzip;
//! gzip for the rest), and named by the blake3 of the cut file. It is made once per
//! controller binary and kept in the user's cache (`$XDG_CACHE_HOME/hoist/host-binary`), keyed
//! by the binary's identity (path, device, inode, size, mtime), so a command does not read the
//! whole binary to learn its hash.

use std::collections::HashMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use flate2::Compression;
use flate2::write::GzEncoder;
use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};

/// Changes whenever what this module makes from a binary changes, so old cache entries are
/// never taken for new ones.
const FORMAT: &str = "sstrip-zstd9-gzip6-1";
/// zstd's level: made once per build, a tenth fewer bytes to every host than level 3.
const ZSTD_LEVEL: i32 = 9;
/// Cache entries kept beside the newest (each build of hoist makes one), and how old one must
/// be to go: a command that looked one up a moment ago still reads it.
const KEPT_ENTRIES: usize = 3;
const PRUNE_AFTER: std::time::Duration = std::time::Duration::from_secs(600);
/// The ELF header and program headers are read from this much of the file's start.
const HEAD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeanBinary {
    /// blake3 (hex) of the cut binary: what the copy on a host must hash to.
    pub hash: String,
    /// The cut binary, gzip-compressed and zstd-compressed.
    pub gzip: PathBuf,
    pub zstd: PathBuf,
    /// Bytes of the cut binary.
    pub size: u64,
}

/// The cache files of one entry: facts (hash and sizes), gzip, zstd.
struct EntryPaths {
    facts: PathBuf,
    gzip: PathBuf,
    zstd: PathBuf,
}

/// What this process already made, so the hosts of one command share one look-up.
static MADE: Mutex<Option<HashMap<PathBuf, LeanBinary>>> = Mutex::new(None);

impl LeanBinary {
    /// The host copy of `binary`, from the cache or made now (once across processes: the
    /// first takes a lock, the others wait for its result).
    pub fn of(binary: &Path) -> Result<Self> {
        let mut made = MADE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lean) = made.as_ref().and_then(|made| made.get(binary)) {
            return Ok(lean.clone());
        }
        let lean = Self::cached_or_made(binary)?;
        made.get_or_insert_with(HashMap::new)
            .insert(binary.to_owned(), lean.clone());
        Ok(lean)
    }

    fn cached_or_made(binary: &Path) -> Result<Self> {
        let metadata = std::fs::metadata(binary).map_err(|e| Error::io("read", binary, e))?;
        let identity = format!(
            "{FORMAT}\n{}\n{}\n{}\n{}\n{}.{}",
            binary.display(),
            metadata.dev(),
            metadata.ino(),
            metadata.size(),
            metadata.mtime(),
            metadata.mtime_nsec()
        );
        let key = blake3::hash(identity.as_bytes()).to_hex();
        let dir = cache_dir()?;
        let name = &key[..32];
        let paths = EntryPaths {
            facts: dir.join(format!("{name}.hash")),
            gzip: dir.join(format!("{name}.gz")),
            zstd: dir.join(format!("{name}.zst")),
        };
        if let Some(lean) = read_facts(&paths) {
            return Ok(lean);
        }
        let lock_path = dir.join("lock");
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io("open", &lock_path, e))?;
        let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::io("lock", &lock_path, e.into()))?;
        // Another process may have made it while this one waited.
        if let Some(lean) = read_facts(&paths) {
            return Ok(lean);
        }
        let lean = make(binary, &paths)?;
        prune(&dir, name);
        Ok(lean)
    }

    /// The cut binary, decompressed again (for a host with neither `zstd` nor `gzip`).
    pub fn open_plain(&self) -> Result<impl Read> {
        Ok(flate2::read::GzDecoder::new(open(&self.gzip)?))
    }

    pub fn open_gzip(&self) -> Result<File> {
        open(&self.gzip)
    }

    pub fn open_zstd(&self) -> Result<File> {
        open(&self.zstd)
    }
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::io("open", path, e))
}

/// Cuts `binary`, compresses it both ways (at once, on two threads) and writes the facts
/// last: an entry with facts is whole.
fn make(binary: &Path, paths: &EntryPaths) -> Result<LeanBinary> {
    let cut = read_cut(binary)?;
    let hash = blake3::hash(&cut).to_hex().to_string();
    let (gzipped, zstded) = std::thread::scope(|scope| {
        let gzipped = scope.spawn(|| {
            write_then_rename(&paths.gzip, |file| {
                let mut encoder = GzEncoder::new(BufWriter::new(file), Compression::default());
                encoder.write_all(&cut)?;
                encoder.finish()?.into_inner().map_err(|e| e.into_error())?;
                Ok(())
            })
        });
        let zstded = write_then_rename(&paths.zstd, |file| {
            let mut writer = BufWriter::new(file);
            zstd::stream::copy_encode(cut.as_slice(), &mut writer, ZSTD_LEVEL)?;
            writer.flush()
        });
        (gzipped.join(), zstded)
    });
    gzipped.map_err(|_| Error::internal("compressing hoist for the hosts failed"))??;
    zstded?;
    let size_of = |path: &Path| {
        std::fs::metadata(path)
            .map(|m| m.len())
            .map_err(|e| Error::io("read", path, e))
    };
    let text = format!(
        "{hash} {} {} {}\n",
        cut.len(),
        size_of(&paths.gzip)?,
        size_of(&paths.zstd)?
    );
    write_then_rename(&paths.facts, |file| file.write_all(text.as_bytes()))?;
    Ok(LeanBinary {
        hash,
        gzip: paths.gzip.clone(),
        zstd: paths.zstd.clone(),
        size: cut.len() as u64,
    })
}

/// `hash size gzip_size zstd_size` from a facts file whose compressed files are still whole.
fn read_facts(paths: &EntryPaths) -> Option<LeanBinary> {
    let text = std::fs::read_to_string(&paths.facts).ok()?;
    let mut words = text.split_whitespace();
    let hash = words.next()?.to_owned();
    let size = words.next()?.parse().ok()?;
    let gzip_size: u64 = words.next()?.parse().ok()?;
    let zstd_size: u64 = words.next()?.parse().ok()?;
    let whole = |path: &Path, size: u64| std::fs::metadata(path).is_ok_and(|m| m.len() == size);
    let whole = hash.len() == 64 && whole(&paths.gzip, gzip_size) && whole(&paths.zstd, zstd_size);
    whole.then(|| LeanBinary {
        hash,
        gzip: paths.gzip.clone(),
        zstd: paths.zstd.clone(),
        size,
    })
}

/// Removes all but the newest `KEPT_ENTRIES` entries besides `keep`, of those older than
/// `PRUNE_AFTER` (best effort: a process reading one keeps its open file).
fn prune(dir: &Path, keep: &str) {
    prune_older_than(dir, keep, PRUNE_AFTER);
}

fn prune_older_than(dir: &Path, keep: &str, age: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<(std::time::SystemTime, String)> = entries
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.file_name();
            let name = file_name.to_str()?.strip_suffix(".hash")?.to_owned();
            let modified = entry.metadata().ok()?.modified().ok()?;
            (name != keep).then_some((modified, name))
        })
        .collect();
    entries.sort();
    let old = entries.len().saturating_sub(KEPT_ENTRIES);
    let now = std::time::SystemTime::now();
    for (modified, name) in &entries[..old] {
        if now.duration_since(*modified).unwrap_or_default() < age {
            continue;
        }
        for extension in ["hash", "gz", "zst"] {
            let _ = std::fs::remove_file(dir.join(format!("{name}.{extension}")));
        }
    }
}

/// The cut copy of `binary`, in memory.
fn read_cut(binary: &Path) -> Result<Vec<u8>> {
    let mut source = File::open(binary).map_err(|e| Error::io("open", binary, e))?;
    let length = source
        .metadata()
        .map_err(|e| Error::io("read", binary, e))?
        .len();
    let mut bytes = Vec::with_capacity(HEAD_BYTES);
    (&mut source)
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", binary, e))?;
    let cut = ElfCut::of(&bytes, length);
    let keep = cut.as_ref().map_or(length, |cut| cut.keep);
    if let Some(cut) = &cut {
        cut.patch(&mut bytes);
    }
    bytes.truncate(usize::try_from(keep).unwrap_or(usize::MAX));
    let have = bytes.len() as u64;
    source
        .seek(SeekFrom::Start(have))
        .and_then(|_| (&mut source).take(keep - have).read_to_end(&mut bytes))
        .map_err(|e| Error::io("read", binary, e))?;
    if bytes.len() as u64 != keep {
        return Err(Error::internal(format!(
            "`{}` changed while hoist read it",
            binary.display()
        ))
        .hint("run the command again"));
    }
    Ok(bytes)
}

/// Writes `path` through a temporary file beside it, renamed into place when whole.
fn write_then_rename(
    path: &Path,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp.{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let mut file = File::create(&temporary).map_err(|e| Error::io("create", &temporary, e))?;
    let written = write(&mut file).and_then(|()| file.sync_all());
    if let Err(error) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(Error::io("write", path, error));
    }
    Ok(())
}

/// `$XDG_CACHE_HOME/hoist/host-binary`, else `$HOME/.cache/…`, else one in the temporary
/// directory per user; 0700.
fn cache_dir() -> Result<PathBuf> {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let dir = match (absolute("XDG_CACHE_HOME"), absolute("HOME")) {
        (Some(cache), _) => cache.join("hoist").join("host-binary"),
        (None, Some(home)) => home.join(".cache").join("hoist").join("host-binary"),
        (None, None) => {
            std::env::temp_dir().join(format!("hoist-host-binary-{}", nix::unistd::geteuid()))
        }
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::io("create", &dir, e))?;
    Ok(dir)
}

/// Where an ELF file can be cut: after the last byte any program header names, with the
/// section header fields of its ELF header zeroed. `None` for anything else (not ELF, a
/// layout it does not understand, nothing to cut): that file travels whole.
#[derive(Debug, PartialEq, Eq)]
struct ElfCut {
    keep: u64,
    /// Byte ranges of the ELF header to zero.
    zero: [(usize, usize); 2],
}

impl ElfCut {
    fn of(head: &[u8], length: u64) -> Option<Self> {
        if head.len() < 64 || !head.starts_with(b"\x7fELF") {
            return None;
        }
        let wide = match head[4] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let little = match head[5] {
            1 => true,
            2 => false,
            _ => return None,
        };
        let read = |at: usize, size: usize| -> Option<u64> {
            let bytes = head.get(at..at + size)?;
            let mut value = 0u64;
            for index in 0..size {
                let byte = if little {
                    bytes[size - 1 - index]
                } else {
                    bytes[index]
                };
                value = (value << 8) | u64::from(byte);
            }
            Some(value)
        };
        // e_phoff, e_phentsize, e_phnum; p_offset and p_filesz within a program header;
        // e_shoff and the three section-header fields after e_phnum.
        let (phoff, phentsize, phnum, offset_at, filesz_at, word, shoff_at, sh_fields_at) =
            match wide {
                true => (
                    read(0x20, 8)?,
                    read(0x36, 2)?,
                    read(0x38, 2)?,
                    8,
                    32,
                    8,
                    0x28,
                    0x3A,
                ),
                false => (
                    read(0x1C, 4)?,
                    read(0x2A, 2)?,
                    read(0x2C, 2)?,
                    4,
                    16,
                    4,
                    0x20,
                    0x2E,
                ),
            };
        let table = phoff.checked_add(phentsize.checked_mul(phnum)?)?;
        if phnum == 0 || usize::try_from(table).ok()? > head.len() {
            return None;
        }
        let mut keep = table;
        for index in 0..phnum {
            let at = usize::try_from(phoff + index * phentsize).ok()?;
            let end = read(at + offset_at, word)?.checked_add(read(at + filesz_at, word)?)?;
            keep = keep.max(end);
        }
        (keep < length).then_some(Self {
            keep,
            zero: [
                (shoff_at, shoff_at + word),
                (sh_fields_at, sh_fields_at + 6),
            ],
        })
    }

    fn patch(&self, head: &mut [u8]) {
        for (start, end) in self.zero {
            head[start..end].fill(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    fn entry(dir: &Path) -> EntryPaths {
        EntryPaths {
            facts: dir.join("e.hash"),
            gzip: dir.join("e.gz"),
            zstd: dir.join("e.zst"),
        }
    }

    #[test]
    fn a_cut_copy_of_a_real_binary_runs_and_is_smaller() {
        let dir = tempfile::tempdir().unwrap();
        let original = Path::new("/bin/true");
        let paths = entry(dir.path());
        let lean = make(original, &paths).unwrap();
        let mut from_gzip = Vec::new();
        lean.open_plain()
            .unwrap()
            .read_to_end(&mut from_gzip)
            .unwrap();
        let from_zstd = zstd::stream::decode_all(lean.open_zstd().unwrap()).unwrap();
        assert_eq!(from_gzip, from_zstd);
        assert_eq!(from_gzip.len() as u64, lean.size);
        assert_eq!(blake3::hash(&from_gzip).to_hex().to_string(), lean.hash);
        let length = std::fs::metadata(original).unwrap().len();
        assert!(lean.size < length, "{} of {length}", lean.size);
        let copy = dir.path().join("true");
        std::fs::write(&copy, &from_gzip).unwrap();
        Command::new("chmod")
            .arg("755")
            .arg(&copy)
            .status()
            .unwrap();
        assert!(Command::new(&copy).status().unwrap().success());
        assert_eq!(read_facts(&paths), Some(lean));
        // A compressed file cut short is not taken for a whole entry.
        std::fs::write(&paths.zstd, b"short").unwrap();
        assert_eq!(read_facts(&paths), None);
    }

    #[test]
    fn files_that_are_not_elf_travel_whole() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        let lean = make(&script, &entry(dir.path())).unwrap();
        assert_eq!(lean.size, 18);
        assert_eq!(
            lean.hash,
            blake3::hash(b"#!/bin/sh\necho hi\n").to_hex().to_string()
        );
        assert_eq!(ElfCut::of(b"\x7fELF", 4), None);
        let mut truncated = b"\x7fELF\x02\x01\x01".to_vec();
        truncated.resize(64, 0);
        truncated[0x38] = 9;
        truncated[0x36] = 56;
        truncated[0x20] = 64;
        assert_eq!(
            ElfCut::of(&truncated, 1 << 20),
            None,
            "program headers beyond the head"
        );
    }

    #[test]
    fn old_entries_are_pruned_but_the_newest_kept() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..6 {
            for extension in ["hash", "gz", "zst"] {
                std::fs::write(dir.path().join(format!("e{n}.{extension}")), "x").unwrap();
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        prune(dir.path(), "e0");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            18,
            "all are recent"
        );
        prune_older_than(dir.path(), "e0", std::time::Duration::ZERO);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".hash"))
            .collect();
        left.sort();
        assert_eq!(left, ["e0.hash", "e3.hash", "e4.hash", "e5.hash"]);
    }
}

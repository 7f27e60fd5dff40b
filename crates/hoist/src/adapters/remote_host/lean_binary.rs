//! The copy of hoist that hosts run: the controller's binary cut after its last loaded
//! segment, with no section headers (what `sstrip` does: the loader needs only the program
//! headers, so debug information, symbols and section names stay on the controller), gzip-
//! compressed for the trip, and named by the blake3 of the cut file. It is made once per
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
const FORMAT: &str = "sstrip-gzip-1";
/// The ELF header and program headers are read from this much of the file's start.
const HEAD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeanBinary {
    /// blake3 (hex) of the cut binary: what the copy on a host must hash to.
    pub hash: String,
    /// The cut binary, gzip-compressed.
    pub compressed: PathBuf,
    /// Bytes of the cut binary and of its compressed form.
    pub size: u64,
    pub compressed_size: u64,
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
        let compressed = dir.join(format!("{}.gz", &key[..32]));
        let facts = dir.join(format!("{}.hash", &key[..32]));
        if let Some(lean) = read_facts(&facts, &compressed) {
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
        if let Some(lean) = read_facts(&facts, &compressed) {
            return Ok(lean);
        }
        let (hash, size) = write_compressed(binary, &compressed)?;
        let compressed_size = std::fs::metadata(&compressed)
            .map_err(|e| Error::io("read", &compressed, e))?
            .len();
        let text = format!("{hash} {size} {compressed_size}\n");
        write_then_rename(&facts, |file| file.write_all(text.as_bytes()))?;
        Ok(Self {
            hash,
            compressed,
            size,
            compressed_size,
        })
    }

    /// The cut binary, decompressed again (for a host without `gzip`).
    pub fn open_plain(&self) -> Result<impl Read> {
        let file =
            File::open(&self.compressed).map_err(|e| Error::io("open", &self.compressed, e))?;
        Ok(flate2::read::GzDecoder::new(file))
    }

    pub fn open_compressed(&self) -> Result<File> {
        File::open(&self.compressed).map_err(|e| Error::io("open", &self.compressed, e))
    }
}

/// `hash size compressed_size` from a facts file whose compressed file is still whole.
fn read_facts(facts: &Path, compressed: &Path) -> Option<LeanBinary> {
    let text = std::fs::read_to_string(facts).ok()?;
    let mut words = text.split_whitespace();
    let hash = words.next()?.to_owned();
    let size = words.next()?.parse().ok()?;
    let compressed_size: u64 = words.next()?.parse().ok()?;
    let on_disk = std::fs::metadata(compressed).ok()?.len();
    (hash.len() == 64 && on_disk == compressed_size).then(|| LeanBinary {
        hash,
        compressed: compressed.to_owned(),
        size,
        compressed_size,
    })
}

/// Writes the cut, compressed copy of `binary` to `target`; returns its hash and cut size.
fn write_compressed(binary: &Path, target: &Path) -> Result<(String, u64)> {
    let mut source = File::open(binary).map_err(|e| Error::io("open", binary, e))?;
    let length = source
        .metadata()
        .map_err(|e| Error::io("read", binary, e))?
        .len();
    let mut head = Vec::with_capacity(HEAD_BYTES);
    (&mut source)
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io("read", binary, e))?;
    let cut = ElfCut::of(&head, length);
    let keep = cut.as_ref().map_or(length, |cut| cut.keep);
    if let Some(cut) = &cut {
        cut.patch(&mut head);
    }
    let mut hashed = (String::new(), 0);
    write_then_rename(target, |file| {
        let mut writer = HashingWriter {
            hasher: blake3::Hasher::new(),
            written: 0,
            inner: GzEncoder::new(BufWriter::new(file), Compression::default()),
        };
        let head_part = usize::try_from(keep).map_or(head.len(), |keep| keep.min(head.len()));
        writer.write_all(&head[..head_part])?;
        source.seek(SeekFrom::Start(head_part as u64))?;
        std::io::copy(
            &mut (&mut source).take(keep - head_part as u64),
            &mut writer,
        )?;
        let encoder = writer.inner.finish()?;
        encoder.into_inner().map_err(|e| e.into_error())?;
        hashed = (
            writer.hasher.finalize().to_hex().to_string(),
            writer.written,
        );
        Ok(())
    })?;
    if hashed.1 != keep {
        return Err(Error::internal(format!(
            "`{}` changed while hoist read it",
            binary.display()
        ))
        .hint("run the command again"));
    }
    Ok(hashed)
}

/// Feeds what is written to a hasher on its way to `inner`.
struct HashingWriter<W: Write> {
    hasher: blake3::Hasher,
    written: u64,
    inner: W,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let count = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..count]);
        self.written += count as u64;
        Ok(count)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `path` through a temporary file beside it, renamed into place when whole.
fn write_then_rename(
    path: &Path,
    write: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<()> {
    let temporary = path.with_extension(format!("tmp.{}", std::process::id()));
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

    #[test]
    fn a_cut_copy_of_a_real_binary_runs_and_is_smaller() {
        let dir = tempfile::tempdir().unwrap();
        let original = Path::new("/bin/true");
        let compressed = dir.path().join("true.gz");
        let (hash, size) = write_compressed(original, &compressed).unwrap();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(File::open(&compressed).unwrap())
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain.len() as u64, size);
        assert_eq!(blake3::hash(&plain).to_hex().to_string(), hash);
        let length = std::fs::metadata(original).unwrap().len();
        assert!(size < length, "{size} of {length}");
        let copy = dir.path().join("true");
        std::fs::write(&copy, &plain).unwrap();
        Command::new("chmod")
            .arg("755")
            .arg(&copy)
            .status()
            .unwrap();
        assert!(Command::new(&copy).status().unwrap().success());
    }

    #[test]
    fn files_that_are_not_elf_travel_whole() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        let compressed = dir.path().join("script.gz");
        let (hash, size) = write_compressed(&script, &compressed).unwrap();
        assert_eq!(size, 18);
        assert_eq!(
            hash,
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
}

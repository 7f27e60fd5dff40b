//! The last lines of a log file, read backwards from its end: logs can be large.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

const CHUNK: u64 = 8 * 1024;
/// Never read more than this from the end, however long the lines are.
const MAX_BYTES: u64 = 256 * 1024;

/// The last `lines` lines of the file (without the final newline). A missing file has none.
pub(crate) fn read(path: &Path, lines: usize) -> io::Result<String> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(String::new()),
        Err(error) => return Err(error),
    };
    if lines == 0 {
        return Ok(String::new());
    }
    let length = file.metadata()?.len();
    let floor = length.saturating_sub(MAX_BYTES);
    let mut start = length;
    let mut tail: Vec<u8> = Vec::new();
    // One more newline than lines wanted: the one ending the file, if any, does not count.
    while start > floor && newlines_before_the_end(&tail) <= lines {
        let next = start.saturating_sub(CHUNK).max(floor);
        let mut chunk = vec![0; usize::try_from(start - next).unwrap_or(0)];
        file.seek(SeekFrom::Start(next))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        start = next;
    }
    let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
    let from = body
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, byte)| **byte == b'\n')
        .nth(lines - 1)
        .map_or(0, |(index, _)| index + 1);
    Ok(String::from_utf8_lossy(&body[from..]).into_owned())
}

fn newlines_before_the_end(bytes: &[u8]) -> usize {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    body.iter().filter(|byte| **byte == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail_of(contents: &str, lines: usize) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, contents).unwrap();
        read(&path, lines).unwrap()
    }

    #[test]
    fn keeps_the_last_lines() {
        assert_eq!(tail_of("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_of("a\nb\nc", 2), "b\nc");
        assert_eq!(tail_of("a\nb\nc\n", 10), "a\nb\nc");
        assert_eq!(tail_of("a\nb\nc\n", 0), "");
        assert_eq!(tail_of("", 3), "");
    }

    #[test]
    fn reads_big_logs_from_the_end() {
        let mut contents = String::new();
        for index in 0..50_000 {
            contents.push_str(&format!("line {index}\n"));
        }
        assert_eq!(tail_of(&contents, 3), "line 49997\nline 49998\nline 49999");
        let lines = tail_of(&contents, 2_000);
        assert_eq!(lines.lines().count(), 2_000);
        assert!(lines.starts_with("line 48000\n"));
    }

    #[test]
    fn a_missing_log_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(&dir.path().join("none.log"), 5).unwrap(), "");
    }

    #[test]
    fn one_huge_line_is_cut() {
        let contents = format!("{}\nlast\n", "x".repeat(1_000_000));
        let tail = tail_of(&contents, 2);
        assert!(tail.ends_with("x\nlast"));
        assert!(tail.len() <= usize::try_from(MAX_BYTES).unwrap());
    }
}

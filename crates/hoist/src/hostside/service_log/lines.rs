//! Lines of a log file from an offset, read with positioned reads (two readers of one open
//! file never move each other) and cut at `MAX_LINE`, so one endless line of an old raw
//! log cannot fill the memory.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use hoist_core::log_line::MAX_RECORD_TEXT;

/// The longest line read as one: a record's text plus its time and stream.
pub(super) const MAX_LINE: usize = MAX_RECORD_TEXT + 64;
const CHUNK: usize = 64 * 1024;

/// One line: without its line break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    pub bytes: Vec<u8>,
    /// Ended by a line break (or cut at `MAX_LINE`); false for the unfinished end of a file.
    pub complete: bool,
    /// The offset just after it.
    pub end: u64,
}

#[derive(Debug)]
pub(super) struct LineReader<'f> {
    file: &'f File,
    buffer: Vec<u8>,
    /// Where `buffer[start]` is in the file.
    position: u64,
    start: usize,
    at_end: bool,
}

impl<'f> LineReader<'f> {
    pub(super) fn new(file: &'f File, offset: u64) -> Self {
        Self {
            file,
            buffer: Vec::new(),
            position: offset,
            start: 0,
            at_end: false,
        }
    }

    pub(super) fn next_line(&mut self) -> io::Result<Option<Line>> {
        loop {
            let pending = &self.buffer[self.start..];
            let newline = pending.iter().position(|byte| *byte == b'\n');
            let cut = match newline {
                Some(index) if index <= MAX_LINE => Some((index, index + 1)),
                _ if pending.len() >= MAX_LINE => Some((MAX_LINE, MAX_LINE)),
                _ => None,
            };
            if let Some((length, consumed)) = cut {
                let bytes = pending[..length].to_vec();
                return Ok(Some(self.take(bytes, consumed, true)));
            }
            if self.at_end {
                if pending.is_empty() {
                    return Ok(None);
                }
                let bytes = pending.to_vec();
                let consumed = bytes.len();
                return Ok(Some(self.take(bytes, consumed, false)));
            }
            self.fill()?;
        }
    }

    fn take(&mut self, bytes: Vec<u8>, consumed: usize, complete: bool) -> Line {
        self.start += consumed;
        self.position += consumed as u64;
        Line {
            bytes,
            complete,
            end: self.position,
        }
    }

    /// Reads the next chunk after what is buffered.
    fn fill(&mut self) -> io::Result<()> {
        self.buffer.drain(..self.start);
        self.start = 0;
        let buffered = self.buffer.len();
        self.buffer.resize(buffered + CHUNK, 0);
        let read = loop {
            match self.file.read_at(
                &mut self.buffer[buffered..],
                self.position + buffered as u64,
            ) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        self.buffer.truncate(buffered + read);
        self.at_end = read == 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(contents: &[u8], offset: u64) -> Vec<Line> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, contents).unwrap();
        let file = File::open(&path).unwrap();
        let mut reader = LineReader::new(&file, offset);
        let mut lines = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            lines.push(line);
        }
        lines
    }

    fn line(text: &str, complete: bool, end: u64) -> Line {
        Line {
            bytes: text.as_bytes().to_vec(),
            complete,
            end,
        }
    }

    #[test]
    fn reads_lines_with_their_end_offsets() {
        assert_eq!(
            lines_of(b"one\ntwo\n\nend", 0),
            vec![
                line("one", true, 4),
                line("two", true, 8),
                line("", true, 9),
                line("end", false, 12)
            ]
        );
        assert_eq!(lines_of(b"one\ntwo\n", 4), vec![line("two", true, 8)]);
        assert!(lines_of(b"", 0).is_empty());
    }

    #[test]
    fn endless_lines_are_cut() {
        let long = vec![b'x'; 3 * MAX_LINE + 5];
        let mut contents = long.clone();
        contents.extend_from_slice(b"\nafter\n");
        let lines = lines_of(&contents, 0);
        let lengths: Vec<usize> = lines.iter().map(|l| l.bytes.len()).collect();
        assert_eq!(lengths, vec![MAX_LINE, MAX_LINE, MAX_LINE, 5, 5]);
        assert!(lines.iter().all(|l| l.complete));
        assert_eq!(lines[4].end, contents.len() as u64);
    }
}

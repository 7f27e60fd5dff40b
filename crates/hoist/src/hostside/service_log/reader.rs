//! Reading the service logs of a directory as `LogQuery` asks: every log's files in order,
//! each line timed (`LineTimer`: an old raw line takes the time before it), filtered by
//! `since` and `grep`, the logs merged by time; then either the last `lines`, or a page
//! and a cursor to continue from. A cursor names each log's file by device and inode, so
//! after a rotation renamed `NAME.log` to `NAME.log.1` the reader finds it there, finishes
//! it and goes on into the new `NAME.log`.

use std::collections::VecDeque;
use std::path::Path;

use hoist_core::log_line::{LineTimer, ParsedLine, parse_line};
use hoist_core::log_merge::{keep_last, merge_by_time};
use jiff::Timestamp;
use regex_automata::meta::Regex;

use super::lines::LineReader;
use super::log_files::{self, LogFile, LogFiles};
use crate::error::{Error, Result};
use crate::ports::service_logs::{LogCursor, LogPage, LogPosition, LogQuery, ServiceLogLine};

/// At most this many lines of one log in one page…
pub(super) const PAGE_LINES: usize = 2_000;
/// …and this much text.
const PAGE_BYTES: usize = 4 * 1024 * 1024;
/// How far ahead the time for untimed lines at a log's start is looked for.
const FALLBACK_SCAN: u64 = 1024 * 1024;

/// Checks a `--grep` pattern, so a bad one is refused before any host is asked.
pub fn check_grep(pattern: &str) -> Result<()> {
    compile_grep(Some(pattern)).map(drop)
}

/// The lines of the logs in `dir` that `query` asks for.
pub fn read_logs(dir: &Path, query: &LogQuery) -> Result<LogPage> {
    let grep = compile_grep(query.grep.as_deref())?;
    let logs = log_files::list(dir).map_err(|e| Error::io("read the logs in", dir, e))?;
    let tail = match (&query.cursor, query.lines) {
        (None, Some(count)) => Some(count),
        _ => None,
    };
    let filter = Filter {
        since: query.since,
        grep: grep.as_ref(),
        partial: query.partial,
    };
    let mut sources = Vec::with_capacity(logs.len());
    let mut positions = Vec::with_capacity(logs.len());
    let mut more = false;
    for log in &logs {
        let start = start_of(log, query);
        let read = read_log(log, start, &filter, tail)?;
        more |= read.more;
        positions.push(read.position);
        sources.push(read.lines);
    }
    Ok(LogPage {
        lines: keep_last(merge_by_time(sources, |line| line.at), tail),
        cursor: LogCursor { logs: positions },
        more,
    })
}

fn compile_grep(pattern: Option<&str>) -> Result<Option<Regex>> {
    pattern
        .map(|pattern| {
            Regex::new(pattern).map_err(|error| {
                Error::failed(format!("`{pattern}` is not a regular expression"))
                    .cause(error)
                    .hint(
                        "`--grep` takes a regular expression like `error|warn` or `GET /api/\\d+`",
                    )
            })
        })
        .transpose()
}

struct Filter<'a> {
    since: Option<Timestamp>,
    grep: Option<&'a Regex>,
    partial: bool,
}

impl Filter<'_> {
    fn admits(&self, line: &ServiceLogLine) -> bool {
        self.since.is_none_or(|since| line.at >= since)
            && self
                .grep
                .is_none_or(|grep| grep.is_match(line.text.as_str()))
    }
}

/// Where reading one log starts: a file of it (by index), an offset, the time before.
struct Start {
    file: usize,
    offset: u64,
    last_at: Option<Timestamp>,
}

fn start_of(log: &LogFiles, query: &LogQuery) -> Start {
    let beginning = |last_at| Start {
        file: 0,
        offset: 0,
        last_at,
    };
    let Some(cursor) = &query.cursor else {
        return start_after_skipping(log, query.since);
    };
    let Some(position) = cursor.logs.iter().find(|p| p.log == log.name) else {
        // A log that appeared after the cursor was made: all of it is new.
        return beginning(None);
    };
    let found = log
        .files
        .iter()
        .position(|f| (f.device, f.inode) == (position.device, position.inode));
    match found {
        // Shorter than the offset: it was emptied and written again.
        Some(file) if position.offset > log.files[file].len => Start {
            file,
            offset: 0,
            last_at: position.last_at,
        },
        Some(file) => Start {
            file,
            offset: position.offset,
            last_at: position.last_at,
        },
        // Rotated out of `log_keep` meanwhile: what is left, from its start.
        None => beginning(position.last_at),
    }
}

/// The first file last written at or after `since` (older ones hold nothing to show).
fn start_after_skipping(log: &LogFiles, since: Option<Timestamp>) -> Start {
    let old = |file: &LogFile| since.is_some_and(|since| file.modified.is_some_and(|m| m < since));
    let skipped = log.files.iter().take_while(|file| old(file)).count();
    let last_at = skipped
        .checked_sub(1)
        .and_then(|index| log.files[index].modified);
    match log.files.get(skipped) {
        Some(_) => Start {
            file: skipped,
            offset: 0,
            last_at,
        },
        None => {
            let last = log.files.len().saturating_sub(1);
            Start {
                file: last,
                offset: log.files.get(last).map_or(0, |file| file.len),
                last_at,
            }
        }
    }
}

struct LogRead {
    lines: Vec<ServiceLogLine>,
    position: LogPosition,
    more: bool,
}

fn read_log(
    log: &LogFiles,
    start: Start,
    filter: &Filter<'_>,
    tail: Option<usize>,
) -> Result<LogRead> {
    let mut timer = LineTimer::after(start.last_at);
    let mut collected = Collected::new(tail);
    let last_file = log.files.len().saturating_sub(1);
    let (mut at_file, mut at_offset) = (start.file, start.offset);
    let mut more = false;
    'files: for (index, log_file) in log.files.iter().enumerate().skip(start.file) {
        let offset = if index == start.file { start.offset } else { 0 };
        (at_file, at_offset) = (index, offset);
        let mut reader = LineReader::new(&log_file.file, offset);
        let mut fallback = None;
        while let Some(line) = read(&mut reader, log_file)? {
            // Only the current file can still be written to; an older one's last line is
            // as finished as it will ever be.
            let finished = line.complete || index < last_file;
            if !finished && !filter.partial {
                break;
            }
            let parsed = parse_line(&String::from_utf8_lossy(&line.bytes));
            let untimed = timer.last().is_none() && matches!(parsed, ParsedLine::Raw(_));
            let fallback_at = match untimed {
                true => *fallback.get_or_insert_with(|| first_time_after(log_file, line.end)),
                false => Timestamp::UNIX_EPOCH,
            };
            let record = if finished {
                at_offset = line.end;
                timer.time(parsed, fallback_at)
            } else {
                // Read again once whole: it must not move the cursor.
                timer.clone().time(parsed, fallback_at)
            };
            let line = ServiceLogLine {
                at: record.at,
                stream: record.stream,
                log: log.name.clone(),
                text: record.text,
            };
            // An unfinished line ends the logs: a full page there leaves nothing after it.
            if filter.admits(&line) && collected.push(line) && finished {
                more = true;
                break 'files;
            }
        }
    }
    let (device, inode) = log
        .files
        .get(at_file)
        .map_or((0, 0), |file| (file.device, file.inode));
    Ok(LogRead {
        lines: collected.into_lines(),
        position: LogPosition {
            log: log.name.clone(),
            device,
            inode,
            offset: at_offset,
            last_at: timer.last(),
        },
        more,
    })
}

fn read(reader: &mut LineReader<'_>, log_file: &LogFile) -> Result<Option<super::lines::Line>> {
    reader
        .next_line()
        .map_err(|e| Error::io("read the log", &log_file.path, e))
}

/// The time of the first timed line after `offset` (within `FALLBACK_SCAN`), else when the
/// file was last written.
fn first_time_after(log_file: &LogFile, offset: u64) -> Timestamp {
    let mut reader = LineReader::new(&log_file.file, offset);
    while let Ok(Some(line)) = reader.next_line() {
        if line.end - offset > FALLBACK_SCAN {
            break;
        }
        match parse_line(&String::from_utf8_lossy(&line.bytes)) {
            ParsedLine::Record(record) => return record.at,
            ParsedLine::Header { at, .. } => return at,
            ParsedLine::Raw(_) => {}
        }
    }
    log_file.modified.unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The lines kept of one log: the last N, or a page.
enum Collected {
    Tail {
        keep: usize,
        lines: VecDeque<ServiceLogLine>,
    },
    Page {
        lines: Vec<ServiceLogLine>,
        bytes: usize,
    },
}

impl Collected {
    fn new(tail: Option<usize>) -> Self {
        match tail {
            Some(keep) => Self::Tail {
                keep,
                lines: VecDeque::new(),
            },
            None => Self::Page {
                lines: Vec::new(),
                bytes: 0,
            },
        }
    }

    /// Keeps `line`; true when the page is full.
    fn push(&mut self, line: ServiceLogLine) -> bool {
        match self {
            Self::Tail { keep, lines } => {
                if *keep > 0 {
                    if lines.len() == *keep {
                        lines.pop_front();
                    }
                    lines.push_back(line);
                }
                false
            }
            Self::Page { lines, bytes } => {
                *bytes += line.text.len();
                lines.push(line);
                lines.len() >= PAGE_LINES || *bytes >= PAGE_BYTES
            }
        }
    }

    fn into_lines(self) -> Vec<ServiceLogLine> {
        match self {
            Self::Tail { lines, .. } => lines.into(),
            Self::Page { lines, .. } => lines,
        }
    }
}

//! One line of a service log, as hoist writes it on a host:
//!
//! ```text
//! 2026-12-05T10:00:00.123Z<TAB>out<TAB>listening on 127.0.0.1:8080
//! ```
//!
//! the time in UTC with milliseconds, the stream (`out`, `err`, or `hoist` for hoist's own
//! lines such as "starting release X"), then the text: UTF-8 (lossily), never holding a
//! line break (a `\r` or `\n` inside is written as `␍`/`␊`), at most 16 KiB (a longer line
//! becomes several records). Older hoist versions wrote the raw output with a
//! `==> hoist: starting release … at TIME: …` header before each start; those lines are
//! still read, each timed as the line before it.

use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The most text one record holds; a longer line is split into several records.
pub const MAX_RECORD_TEXT: usize = 16 * 1024;

/// Where a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    /// The service's stdout.
    Out,
    /// The service's stderr.
    Err,
    /// hoist's own lines: a start, an exit, a restart.
    Hoist,
}

impl LogStream {
    pub const ALL: [LogStream; 3] = [LogStream::Out, LogStream::Err, LogStream::Hoist];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Out => "out",
            Self::Err => "err",
            Self::Hoist => "hoist",
        }
    }
}

impl std::fmt::Display for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogStream {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|stream| stream.as_str() == text)
            .ok_or_else(|| format!("`{text}` is not a log stream (out, err, hoist)"))
    }
}

/// A line with its time and stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub at: Timestamp,
    pub stream: LogStream,
    pub text: String,
}

/// A line as read back from a log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedLine {
    /// `TIME<TAB>STREAM<TAB>TEXT`.
    Record(LogRecord),
    /// An older hoist's `==> hoist: … at TIME: …` header: `text` is what follows `==> hoist: `.
    Header { at: Timestamp, text: String },
    /// Anything else: raw output of an older hoist, with no time of its own.
    Raw(String),
}

/// The time as records write it: RFC 3339 in UTC with milliseconds (truncated).
pub fn format_time(at: Timestamp) -> String {
    format!("{at:.3}")
}

/// One record as a line of the file, newline included. `text` must come from
/// `record_texts`, which guarantees it holds no line break.
pub fn format_record(at: Timestamp, stream: LogStream, text: &str) -> String {
    format!("{}\t{stream}\t{text}\n", format_time(at))
}

/// The record texts for one line of output: lossily UTF-8, one trailing line break
/// dropped, `\r`/`\n` inside shown as `␍`/`␊`, cut into pieces of at most
/// `MAX_RECORD_TEXT` bytes at character boundaries. Always at least one (maybe empty) text.
pub fn record_texts(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let text: String = String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| match c {
            '\n' => '\u{240A}',
            '\r' => '\u{240D}',
            other => other,
        })
        .collect();
    let mut pieces = Vec::new();
    let mut rest = text.as_str();
    while rest.len() > MAX_RECORD_TEXT {
        let mut cut = MAX_RECORD_TEXT;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        pieces.push(rest[..cut].to_owned());
        rest = &rest[cut..];
    }
    pieces.push(rest.to_owned());
    pieces
}

/// Reads one line of a log file (without its line break).
pub fn parse_line(line: &str) -> ParsedLine {
    if let Some(record) = parse_record(line) {
        return ParsedLine::Record(record);
    }
    if let Some(text) = line.strip_prefix("==> hoist: ")
        && let Some(at) = header_time(text)
    {
        return ParsedLine::Header {
            at,
            text: text.to_owned(),
        };
    }
    ParsedLine::Raw(line.to_owned())
}

fn parse_record(line: &str) -> Option<LogRecord> {
    let mut fields = line.splitn(3, '\t');
    let (time, stream, text) = (fields.next()?, fields.next()?, fields.next()?);
    // Only UTC with a `Z`, as records are written: a raw line that happens to start with
    // some other date is raw.
    if !time.ends_with('Z') || !time.contains('T') {
        return None;
    }
    Some(LogRecord {
        at: time.parse().ok()?,
        stream: stream.parse().ok()?,
        text: text.to_owned(),
    })
}

/// The time in `starting release X on port P at TIME: COMMAND`: the first ` at ` followed
/// by a timestamp ending at `: ` or the end of the line.
fn header_time(text: &str) -> Option<Timestamp> {
    text.match_indices(" at ").find_map(|(index, marker)| {
        let after = &text[index + marker.len()..];
        let token = after.split_once(": ").map_or(after, |(token, _)| token);
        token.parse().ok()
    })
}

/// Gives every line of one log a time: a record or header has its own, any other line
/// takes the time of the line before it, or `fallback` when there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineTimer {
    last: Option<Timestamp>,
}

impl LineTimer {
    /// Continues a log whose last timed line was at `last`.
    pub fn after(last: Option<Timestamp>) -> Self {
        Self { last }
    }

    /// The time of the last line timed so far.
    pub fn last(&self) -> Option<Timestamp> {
        self.last
    }

    pub fn time(&mut self, line: ParsedLine, fallback: Timestamp) -> LogRecord {
        let record = match line {
            ParsedLine::Record(record) => record,
            ParsedLine::Header { at, text } => LogRecord {
                at,
                stream: LogStream::Hoist,
                text,
            },
            ParsedLine::Raw(text) => LogRecord {
                at: self.last.unwrap_or(fallback),
                stream: LogStream::Out,
                text,
            },
        };
        self.last = Some(record.at);
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_record_is_time_stream_and_text_on_one_line() {
        let line = format_record(at("2026-12-05T10:00:00.123456Z"), LogStream::Err, "boom");
        assert_eq!(line, "2026-12-05T10:00:00.123Z\terr\tboom\n");
        let whole = format_record(at("2026-12-05T10:00:00Z"), LogStream::Out, "x");
        assert_eq!(whole, "2026-12-05T10:00:00.000Z\tout\tx\n");
    }

    #[test]
    fn records_read_back_as_written() {
        for stream in LogStream::ALL {
            let written = format_record(at("2026-12-05T10:00:00.5Z"), stream, "a\tb  c");
            let parsed = parse_line(written.trim_end_matches('\n'));
            assert_eq!(
                parsed,
                ParsedLine::Record(LogRecord {
                    at: at("2026-12-05T10:00:00.5Z"),
                    stream,
                    text: "a\tb  c".to_owned(),
                })
            );
        }
    }

    #[test]
    fn line_breaks_never_split_a_record() {
        assert_eq!(record_texts(b"one\ntwo\r\n"), vec!["one\u{240A}two"]);
        assert_eq!(record_texts(b"a\rb\n"), vec!["a\u{240D}b"]);
        assert_eq!(record_texts(b""), vec![""]);
        assert_eq!(record_texts(b"\xff ok"), vec!["\u{FFFD} ok"]);
    }

    #[test]
    fn long_lines_become_several_records() {
        let long = "é".repeat(MAX_RECORD_TEXT);
        let pieces = record_texts(long.as_bytes());
        assert_eq!(pieces.len(), 2);
        assert!(pieces.iter().all(|piece| piece.len() <= MAX_RECORD_TEXT));
        assert_eq!(pieces.concat(), long);
    }

    #[test]
    fn old_headers_carry_their_time() {
        let line = "==> hoist: starting release 20261205T100000Z-abcdef12 on port 8080 at \
                    2026-12-05T10:00:00.123456789Z: python3 app.py --at 5";
        match parse_line(line) {
            ParsedLine::Header { at: time, text } => {
                assert_eq!(time, at("2026-12-05T10:00:00.123456789Z"));
                assert!(text.starts_with("starting release 20261205T100000Z-abcdef12"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn anything_else_is_raw() {
        for line in [
            "listening on 127.0.0.1:8080",
            "2026-12-05 10:00:00 INFO started",
            "2026-12-05T10:00:00Z\tdebug\tnot a stream",
            "==> hoist: something without a time",
            "",
        ] {
            assert_eq!(parse_line(line), ParsedLine::Raw(line.to_owned()), "{line}");
        }
    }

    #[test]
    fn raw_lines_take_the_time_before_them() {
        let fallback = at("2026-01-01T00:00:00Z");
        let mut timer = LineTimer::default();
        let first = timer.time(ParsedLine::Raw("early".to_owned()), fallback);
        assert_eq!(first.at, fallback);
        let header =
            parse_line("==> hoist: starting release x on port 1 at 2026-12-05T10:00:00Z: y");
        assert_eq!(timer.time(header, fallback).stream, LogStream::Hoist);
        let raw = timer.time(ParsedLine::Raw("after".to_owned()), fallback);
        assert_eq!(
            (raw.at, raw.stream),
            (at("2026-12-05T10:00:00Z"), LogStream::Out)
        );
        assert_eq!(timer.last(), Some(at("2026-12-05T10:00:00Z")));
    }

    proptest! {
        #[test]
        fn any_output_round_trips_through_records(
            bytes in proptest::collection::vec(any::<u8>(), 0..40_000),
            millis in 0_i64..4_102_444_800_000,
        ) {
            let time = Timestamp::from_millisecond(millis).unwrap();
            let texts = record_texts(&bytes);
            let mut file = String::new();
            for text in &texts {
                file.push_str(&format_record(time, LogStream::Out, text));
            }
            let lines: Vec<&str> = file.lines().collect();
            prop_assert_eq!(lines.len(), texts.len());
            for (line, text) in lines.iter().zip(&texts) {
                let parsed = parse_line(line);
                prop_assert_eq!(parsed, ParsedLine::Record(LogRecord {
                    at: time,
                    stream: LogStream::Out,
                    text: text.clone(),
                }));
            }
        }
    }
}

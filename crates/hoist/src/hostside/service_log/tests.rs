use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hoist_core::log_line::{LogRecord, ParsedLine, parse_line};
use jiff::Timestamp;

use super::*;
use crate::ports::service_logs::{LogCursor, LogPage, LogQuery, ServiceLogLine};

/// Times in the past: a file's modification time (now) is after all of its lines.
fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

fn logs_dir() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("logs");
    (temp, dir)
}

fn read(dir: &Path, query: &LogQuery) -> LogPage {
    read_logs(dir, query).unwrap()
}

fn texts(lines: &[ServiceLogLine]) -> Vec<&str> {
    lines.iter().map(|line| line.text.as_str()).collect()
}

/// Every page after `cursor`, as a follower reads them.
fn read_after(dir: &Path, cursor: LogCursor) -> (Vec<ServiceLogLine>, LogCursor) {
    let mut lines = Vec::new();
    let mut cursor = cursor;
    loop {
        let page = read(
            dir,
            &LogQuery {
                cursor: Some(cursor),
                ..LogQuery::default()
            },
        );
        lines.extend(page.lines);
        cursor = page.cursor;
        if !page.more {
            return (lines, cursor);
        }
    }
}

fn the_end(dir: &Path) -> LogCursor {
    read(
        dir,
        &LogQuery {
            lines: Some(0),
            ..LogQuery::default()
        },
    )
    .cursor
}

#[test]
fn records_round_trip_through_the_file() {
    let (_temp, dir) = logs_dir();
    let path = dir.join("r1.log");
    let mut writer = ServiceLogWriter::open(&path, 1 << 20, 3).unwrap();
    writer
        .write_line(LogStream::Hoist, b"starting release r1", at(0))
        .unwrap();
    writer
        .write_line(LogStream::Out, b"hello\n", at(1))
        .unwrap();
    writer
        .write_line(LogStream::Err, b"a\tb\r\nsecond", at(2))
        .unwrap();
    let contents = fs::read_to_string(&path).unwrap();
    let parsed: Vec<ParsedLine> = contents.lines().map(parse_line).collect();
    assert_eq!(
        parsed,
        vec![
            ParsedLine::Record(LogRecord {
                at: at(0),
                stream: LogStream::Hoist,
                text: "starting release r1".to_owned()
            }),
            ParsedLine::Record(LogRecord {
                at: at(1),
                stream: LogStream::Out,
                text: "hello".to_owned()
            }),
            ParsedLine::Record(LogRecord {
                at: at(2),
                stream: LogStream::Err,
                text: "a\tb\u{240D}\u{240A}second".to_owned()
            }),
        ]
    );
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let page = read(&dir, &LogQuery::default());
    assert_eq!(
        texts(&page.lines),
        ["starting release r1", "hello", "a\tb\u{240D}\u{240A}second"]
    );
    assert!(page.lines.iter().all(|line| line.log == "r1"));
    assert!(!page.more);
}

#[test]
fn a_loose_file_is_tightened() {
    let (_temp, dir) = logs_dir();
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r1.log");
    fs::write(&path, "").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
    ServiceLogWriter::open(&path, 1 << 20, 3).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

fn write_numbered(writer: &mut ServiceLogWriter, range: std::ops::Range<usize>) {
    for index in range {
        let text = format!("line {index:04} {}", "x".repeat(60));
        let seconds = i64::try_from(index).unwrap();
        writer
            .write_line(LogStream::Out, text.as_bytes(), at(seconds))
            .unwrap();
    }
}

fn numbers(lines: &[ServiceLogLine]) -> Vec<usize> {
    lines
        .iter()
        .map(|line| line.text[5..9].parse().unwrap())
        .collect()
}

#[test]
fn rotates_at_the_cap_keeping_keep_files() {
    let (_temp, dir) = logs_dir();
    let path = dir.join("r1.log");
    let mut writer = ServiceLogWriter::open(&path, 1000, 2).unwrap();
    write_numbered(&mut writer, 0..100);
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["r1.log", "r1.log.1", "r1.log.2"]);
    for name in &names {
        let size = fs::metadata(dir.join(name)).unwrap().len();
        assert!(size <= 1000, "{name} is {size} bytes");
        let mode = fs::metadata(dir.join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "{name}");
    }
    // The three files hold the newest lines, in order, none lost between them.
    let shown = numbers(&read(&dir, &LogQuery::default()).lines);
    assert_eq!(shown.last(), Some(&99));
    let first = shown[0];
    assert_eq!(shown, (first..100).collect::<Vec<_>>());
    assert!(
        shown.len() > 2 * 1000 / 100,
        "only {} lines kept",
        shown.len()
    );
}

#[test]
fn a_smaller_keep_drops_files_left_from_a_larger_one() {
    let (_temp, dir) = logs_dir();
    let path = dir.join("r1.log");
    let mut writer = ServiceLogWriter::open(&path, 500, 4).unwrap();
    write_numbered(&mut writer, 0..60);
    assert!(dir.join("r1.log.4").exists());
    let mut writer = ServiceLogWriter::open(&path, 500, 1).unwrap();
    write_numbered(&mut writer, 60..80);
    assert!(dir.join("r1.log.1").exists());
    for gone in 2..=4 {
        assert!(!dir.join(format!("r1.log.{gone}")).exists(), "{gone}");
    }
}

#[test]
fn a_record_larger_than_the_cap_still_gets_written() {
    let (_temp, dir) = logs_dir();
    let path = dir.join("r1.log");
    let mut writer = ServiceLogWriter::open(&path, 100, 3).unwrap();
    writer.write_line(LogStream::Out, b"small", at(0)).unwrap();
    let big = "y".repeat(300);
    writer
        .write_line(LogStream::Out, big.as_bytes(), at(1))
        .unwrap();
    writer.write_line(LogStream::Out, b"after", at(2)).unwrap();
    let page = read(&dir, &LogQuery::default());
    assert_eq!(texts(&page.lines), ["small", big.as_str(), "after"]);
}

#[test]
fn long_lines_are_split_into_records() {
    let (_temp, dir) = logs_dir();
    let mut writer = ServiceLogWriter::open(&dir.join("r1.log"), 1 << 20, 3).unwrap();
    let long = "z".repeat(40 * 1024);
    writer
        .write_line(LogStream::Err, long.as_bytes(), at(0))
        .unwrap();
    let page = read(&dir, &LogQuery::default());
    assert_eq!(page.lines.len(), 3);
    assert_eq!(
        page.lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<String>(),
        long
    );
}

#[test]
fn the_cursor_follows_a_file_through_its_rotation() {
    let (_temp, dir) = logs_dir();
    let path = dir.join("r1.log");
    let mut writer = ServiceLogWriter::open(&path, 1000, 3).unwrap();
    write_numbered(&mut writer, 0..5);
    let cursor = the_end(&dir);
    // Enough to rotate twice: the cursor's file is now `r1.log.2`.
    write_numbered(&mut writer, 5..30);
    assert!(dir.join("r1.log.2").exists());
    let (lines, cursor) = read_after(&dir, cursor);
    assert_eq!(numbers(&lines), (5..30).collect::<Vec<_>>());
    // Nothing new: nothing read; then only the new line.
    let (lines, cursor) = read_after(&dir, cursor);
    assert!(lines.is_empty());
    write_numbered(&mut writer, 30..31);
    let (lines, _) = read_after(&dir, cursor);
    assert_eq!(numbers(&lines), [30]);
}

#[test]
fn a_cursor_whose_file_was_dropped_goes_on_with_what_is_left() {
    let (_temp, dir) = logs_dir();
    let path = dir.join("r1.log");
    let mut writer = ServiceLogWriter::open(&path, 1000, 1).unwrap();
    write_numbered(&mut writer, 0..5);
    let cursor = the_end(&dir);
    write_numbered(&mut writer, 5..60);
    let (lines, _) = read_after(&dir, cursor);
    let shown = numbers(&lines);
    assert_eq!(shown.last(), Some(&59));
    assert!(shown.len() < 55, "{shown:?}");
    assert_eq!(shown, (shown[0]..60).collect::<Vec<_>>());
}

#[test]
fn a_new_log_is_read_whole_by_a_follower() {
    let (_temp, dir) = logs_dir();
    let mut first = ServiceLogWriter::open(&dir.join("r1.log"), 1 << 20, 3).unwrap();
    first.write_line(LogStream::Out, b"old", at(0)).unwrap();
    let cursor = the_end(&dir);
    let mut second = ServiceLogWriter::open(&dir.join("r2.log"), 1 << 20, 3).unwrap();
    second
        .write_line(LogStream::Out, b"new one", at(5))
        .unwrap();
    second
        .write_line(LogStream::Out, b"new two", at(6))
        .unwrap();
    first
        .write_line(LogStream::Out, b"old again", at(7))
        .unwrap();
    let (lines, _) = read_after(&dir, cursor);
    assert_eq!(texts(&lines), ["new one", "new two", "old again"]);
    assert_eq!(lines[0].log, "r2");
}

#[test]
fn grep_since_and_lines_filter() {
    let (_temp, dir) = logs_dir();
    let mut blue = ServiceLogWriter::open(&dir.join("r1.log"), 1 << 20, 3).unwrap();
    let mut green = ServiceLogWriter::open(&dir.join("r2.log"), 1 << 20, 3).unwrap();
    for second in 0..10 {
        let (writer, text) = match second % 2 {
            0 => (&mut blue, format!("GET /a {second}")),
            _ => (&mut green, format!("POST /b {second}")),
        };
        writer
            .write_line(LogStream::Err, text.as_bytes(), at(second))
            .unwrap();
    }
    let query = |grep: Option<&str>, since: Option<i64>, lines: Option<usize>| LogQuery {
        grep: grep.map(str::to_owned),
        since: since.map(at),
        lines,
        ..LogQuery::default()
    };
    let all = read(&dir, &query(None, None, None));
    assert_eq!(all.lines.len(), 10);
    let times: Vec<Timestamp> = all.lines.iter().map(|l| l.at).collect();
    assert_eq!(times, (0..10).map(at).collect::<Vec<_>>(), "merged by time");
    let posts = read(&dir, &query(Some("^POST /b [13]$"), None, None));
    assert_eq!(texts(&posts.lines), ["POST /b 1", "POST /b 3"]);
    let recent = read(&dir, &query(None, Some(7), None));
    assert_eq!(texts(&recent.lines), ["POST /b 7", "GET /a 8", "POST /b 9"]);
    let last = read(&dir, &query(Some("GET"), None, Some(2)));
    assert_eq!(texts(&last.lines), ["GET /a 6", "GET /a 8"]);
    let error = read_logs(&dir, &query(Some("(unclosed"), None, None)).unwrap_err();
    assert!(
        error.message.contains("is not a regular expression"),
        "{error}"
    );
}

#[test]
fn pages_continue_where_the_last_one_ended() {
    let (_temp, dir) = logs_dir();
    let mut writer = ServiceLogWriter::open(&dir.join("r1.log"), 1 << 30, 3).unwrap();
    write_numbered(&mut writer, 0..5000);
    let first = read(&dir, &LogQuery::default());
    assert!(first.more);
    assert_eq!(first.lines.len(), reader::PAGE_LINES);
    let (rest, _) = read_after(&dir, first.cursor);
    let mut all = numbers(&first.lines);
    all.extend(numbers(&rest));
    assert_eq!(all, (0..5000).collect::<Vec<_>>());
}

#[test]
fn since_skips_files_last_written_before_it() {
    let (_temp, dir) = logs_dir();
    let path = dir.join("r1.log");
    let mut writer = ServiceLogWriter::open(&path, 1000, 3).unwrap();
    write_numbered(&mut writer, 0..20);
    // Lines timed after their file was last written cannot be: this shows the file was
    // never read.
    let rotated = fs::File::options()
        .write(true)
        .open(dir.join("r1.log.1"))
        .unwrap();
    rotated
        .set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000))
        .unwrap();
    let query = LogQuery {
        since: Some(at(0)),
        ..LogQuery::default()
    };
    let shown = numbers(&read(&dir, &query).lines);
    let everything = numbers(&read(&dir, &LogQuery::default()).lines);
    assert!(shown.len() < everything.len(), "{shown:?}");
    assert_eq!(shown.last(), Some(&19));
}

#[test]
fn raw_lines_of_older_hoists_are_timed_by_what_comes_before() {
    let (_temp, dir) = logs_dir();
    fs::create_dir_all(&dir).unwrap();
    let header = |time: &str| {
        format!("==> hoist: starting release r1 on port 8080 at {time}: exec python3 app.py\n")
    };
    let contents = format!(
        "before any header\n{}listening\nGET /\n{}listening again\n",
        header("2026-12-05T10:00:00.5Z"),
        header("2026-12-05T11:00:00Z"),
    );
    fs::write(dir.join("r1.log"), contents).unwrap();
    let page = read(&dir, &LogQuery::default());
    let shown: Vec<(String, LogStream, &str)> = page
        .lines
        .iter()
        .map(|l| (l.at.to_string(), l.stream, l.text.as_str()))
        .collect();
    let first_start =
        "starting release r1 on port 8080 at 2026-12-05T10:00:00.5Z: exec python3 app.py";
    let second_start =
        "starting release r1 on port 8080 at 2026-12-05T11:00:00Z: exec python3 app.py";
    assert_eq!(
        shown,
        vec![
            (
                "2026-12-05T10:00:00.5Z".to_owned(),
                LogStream::Out,
                "before any header"
            ),
            (
                "2026-12-05T10:00:00.5Z".to_owned(),
                LogStream::Hoist,
                first_start
            ),
            (
                "2026-12-05T10:00:00.5Z".to_owned(),
                LogStream::Out,
                "listening"
            ),
            ("2026-12-05T10:00:00.5Z".to_owned(), LogStream::Out, "GET /"),
            (
                "2026-12-05T11:00:00Z".to_owned(),
                LogStream::Hoist,
                second_start
            ),
            (
                "2026-12-05T11:00:00Z".to_owned(),
                LogStream::Out,
                "listening again"
            ),
        ]
    );
}

#[test]
fn an_unfinished_last_line_is_shown_only_when_asked_and_never_passed() {
    let (_temp, dir) = logs_dir();
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r1.log");
    fs::write(
        &path,
        "2026-12-05T10:00:00.000Z\tout\tdone\n2026-12-05T10:00:01.000Z\tout\tloadi",
    )
    .unwrap();
    let whole = read(&dir, &LogQuery::default());
    assert_eq!(texts(&whole.lines), ["done"]);
    let with_partial = read(
        &dir,
        &LogQuery {
            partial: true,
            ..LogQuery::default()
        },
    );
    assert_eq!(texts(&with_partial.lines), ["done", "loadi"]);
    let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut file, b"ng\n").unwrap();
    let (lines, _) = read_after(&dir, with_partial.cursor);
    assert_eq!(texts(&lines), ["loading"]);
}

#[test]
fn two_writers_of_one_log_rotate_once_and_lose_nothing() {
    let (_temp, dir) = logs_dir();
    let path = dir.join("r1.log");
    let mut one = ServiceLogWriter::open(&path, 2000, 50).unwrap();
    let mut two = ServiceLogWriter::open(&path, 2000, 50).unwrap();
    for index in 0..200 {
        let writer = if index % 2 == 0 { &mut one } else { &mut two };
        write_numbered(writer, index..index + 1);
    }
    let mut shown = numbers(&read(&dir, &LogQuery::default()).lines);
    shown.sort_unstable();
    assert_eq!(shown, (0..200).collect::<Vec<_>>());
    let files = fs::read_dir(&dir).unwrap().count();
    // 200 lines of ~90 bytes at 2000 bytes a file: about ten files, not twenty.
    assert!(files <= 14, "{files} files");
}

//! A file's `ETag` and `Last-Modified`, and the conditional headers checked against them
//! (`If-None-Match`, `If-Modified-Since`, `If-Range`).

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

use jiff::Timestamp;
use jiff::fmt::rfc2822::{DateTimeParser, DateTimePrinter};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// Strong, quoted: inode, size and modification time in nanoseconds, in hex, then the
    /// encoding of a pre-compressed variant (hard links share an inode, so it is named).
    pub etag: String,
    /// Whole seconds since the epoch, as HTTP dates have.
    pub modified: i64,
    pub last_modified: String,
}

impl Validators {
    /// For the file served; `encoding` is the variant's (`br`, `gzip`), none for the file itself.
    pub fn of(metadata: &Metadata, encoding: Option<&str>) -> Self {
        let nanos =
            i128::from(metadata.mtime()) * 1_000_000_000 + i128::from(metadata.mtime_nsec());
        let etag = match encoding {
            Some(encoding) => format!(
                "\"{:x}-{:x}-{nanos:x}-{encoding}\"",
                metadata.ino(),
                metadata.size()
            ),
            None => format!("\"{:x}-{:x}-{nanos:x}\"", metadata.ino(), metadata.size()),
        };
        let modified = metadata.mtime();
        // Outside jiff's range (years beyond ±9999) there is no HTTP date to give.
        let last_modified = Timestamp::from_second(modified)
            .map(|t| DateTimePrinter::new().timestamp_to_rfc9110_string(&t))
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        Self {
            etag,
            modified,
            last_modified,
        }
    }

    /// Whether a GET or HEAD with these conditional headers gets a 304. `If-None-Match`
    /// (weak comparison, `*` for any) decides when present; `If-Modified-Since` only without it.
    pub fn not_modified(
        &self,
        if_none_match: Option<&str>,
        if_modified_since: Option<&str>,
    ) -> bool {
        match (if_none_match, if_modified_since) {
            (Some(tags), _) => tags
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == self.etag),
            (None, Some(date)) => parse_http_date(date).is_some_and(|since| self.modified <= since),
            (None, None) => false,
        }
    }

    /// Whether an `If-Range` value still names this file, so its `Range` applies: the same
    /// strong ETag, or exactly its `Last-Modified` date.
    pub fn if_range_holds(&self, if_range: &str) -> bool {
        let if_range = if_range.trim();
        if if_range.starts_with('"') || if_range.starts_with("W/") {
            return if_range == self.etag;
        }
        parse_http_date(if_range) == Some(self.modified)
    }
}

/// Seconds since the epoch of an HTTP date (IMF-fixdate, or the RFC 2822 forms close to it).
fn parse_http_date(date: &str) -> Option<i64> {
    DateTimeParser::new()
        .parse_timestamp(date.trim())
        .ok()
        .map(|t| t.as_second())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::{Duration, SystemTime};

    use super::*;

    fn file_modified_at(seconds: u64) -> (tempfile::TempDir, Metadata) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.js");
        fs::write(&path, "console.log(1)").unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::new(seconds, 123))
            .unwrap();
        (dir, fs::metadata(&path).unwrap())
    }

    #[test]
    fn the_etag_is_strong_quoted_hex_and_differs_per_encoding() {
        let (_dir, metadata) = file_modified_at(784_111_777);
        let plain = Validators::of(&metadata, None);
        let br = Validators::of(&metadata, Some("br"));
        assert!(plain.etag.starts_with('"') && plain.etag.ends_with('"'));
        assert!(plain.etag.contains("-e-"), "size 14 in hex: {}", plain.etag);
        assert_ne!(plain.etag, br.etag);
        assert_eq!(plain.last_modified, "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_star() {
        let (_dir, metadata) = file_modified_at(784_111_777);
        let v = Validators::of(&metadata, None);
        assert!(v.not_modified(Some(&v.etag), None));
        assert!(v.not_modified(Some(&format!("\"other\", W/{}", v.etag)), None));
        assert!(v.not_modified(Some("*"), None));
        assert!(!v.not_modified(Some("\"other\""), None));
        // If-None-Match decides alone: a matching date does not rescue a different tag.
        assert!(!v.not_modified(Some("\"other\""), Some(&v.last_modified)));
    }

    #[test]
    fn if_modified_since_is_not_modified_at_or_after_the_file() {
        let (_dir, metadata) = file_modified_at(784_111_777);
        let v = Validators::of(&metadata, None);
        assert!(v.not_modified(None, Some("Sun, 06 Nov 1994 08:49:37 GMT")));
        assert!(v.not_modified(None, Some("Mon, 07 Nov 1994 08:49:37 GMT")));
        assert!(!v.not_modified(None, Some("Sun, 06 Nov 1994 08:49:36 GMT")));
        assert!(!v.not_modified(None, Some("yesterday")));
        assert!(!v.not_modified(None, None));
    }

    #[test]
    fn if_range_takes_the_strong_etag_or_the_exact_date() {
        let (_dir, metadata) = file_modified_at(784_111_777);
        let v = Validators::of(&metadata, None);
        assert!(v.if_range_holds(&v.etag));
        assert!(!v.if_range_holds(&format!("W/{}", v.etag)));
        assert!(!v.if_range_holds("\"other\""));
        assert!(v.if_range_holds("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert!(!v.if_range_holds("Sun, 06 Nov 1994 08:49:38 GMT"));
    }
}

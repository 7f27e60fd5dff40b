//! `.hoist/audit.log`: one JSON object per line, appended with a single write.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Appends `line` as one line of JSON. One `write` on an `O_APPEND` file, so concurrent
/// writers never interleave inside a line.
pub fn append(root: &Path, line: &serde_json::Value) -> Result<()> {
    let dir = root.join(".hoist");
    fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let path = dir.join("audit.log");
    // Compact JSON escapes newlines inside strings, so this is exactly one line.
    let mut bytes = serde_json::to_vec(line)
        .map_err(|e| Error::internal("cannot serialize an audit line").cause(e))?;
    bytes.push(b'\n');
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(&bytes))
        .map_err(|e| Error::io("append to", &path, e))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn lines(root: &Path) -> Vec<serde_json::Value> {
        fs::read_to_string(root.join(".hoist/audit.log"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn appends_one_line_per_entry() {
        let root = tempfile::tempdir().unwrap();
        append(
            root.path(),
            &json!({"kind": "release.ready", "note": "two\nlines"}),
        )
        .unwrap();
        append(root.path(), &json!({"kind": "live.switched"})).unwrap();
        assert_eq!(
            lines(root.path()),
            vec![
                json!({"kind": "release.ready", "note": "two\nlines"}),
                json!({"kind": "live.switched"})
            ]
        );
    }

    #[test]
    fn concurrent_writers_never_interleave() {
        let root = tempfile::tempdir().unwrap();
        let padding = "x".repeat(2_000);
        std::thread::scope(|scope| {
            for writer in 0..8 {
                let (root, padding) = (root.path(), &padding);
                scope.spawn(move || {
                    for index in 0..50 {
                        let line = json!({"writer": writer, "index": index, "padding": padding});
                        append(root, &line).unwrap();
                    }
                });
            }
        });
        assert_eq!(lines(root.path()).len(), 400);
    }

    #[test]
    fn an_unwritable_root_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join(".hoist"), "a file, not a directory").unwrap();
        let error = append(root.path(), &json!({})).unwrap_err();
        assert!(error.message.contains(".hoist"), "{error}");
    }
}

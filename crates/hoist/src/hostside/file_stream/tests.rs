use std::io::Cursor;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::PathBuf;

use super::*;
use crate::ports::host::{NewRelease, ReleaseInfo};

fn id() -> ReleaseId {
    "20261121T000001Z-0000abcd".parse().unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    source: PathBuf,
    layout: Layout,
}

/// A source directory with two files, and a release being uploaded with dir `sub/`.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    fs::create_dir_all(source.join("sub")).unwrap();
    fs::write(source.join("top.txt"), "top\n").unwrap();
    fs::write(source.join("sub/run"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(source.join("sub/run"), fs::Permissions::from_mode(0o750)).unwrap();
    let layout = Layout::open(dir.path().join("host"));
    layout.ensure(false).unwrap();
    let info = ReleaseInfo {
        id: id(),
        status: ReleaseStatus::Uploading,
        content_hash: String::new(),
        config_hash: String::new(),
        created_at: String::new(),
        created_by: String::new(),
        source_rev: None,
        config_snapshot: serde_json::Value::Null,
        error: None,
        config_kept: false,
    };
    let release = NewRelease {
        info,
        shared_dirs: Vec::new(),
    };
    let tree = crate::source_tree::SourceTree::collect(
        &source,
        &hoist_core::spec::Build {
            steps: Vec::new(),
            upload: Vec::new(),
            upload_version: None,
            exclude: Vec::new(),
            pass_env: Vec::new(),
        },
    )
    .unwrap();
    let needed =
        crate::hostside::release_writer::prepare_release(&layout, &release, &tree.entries).unwrap();
    assert_eq!(needed, ["sub/run", "top.txt"]);
    Setup {
        _dir: dir,
        source,
        layout,
    }
}

fn stream_of(frames: &[Frame], body: &[u8]) -> Vec<u8> {
    let mut stream = MAGIC.to_vec();
    for frame in frames {
        stream.extend(serde_json::to_vec(frame).unwrap());
        stream.push(b'\n');
        if matches!(frame, Frame::File { .. }) {
            stream.extend(body);
        }
    }
    stream
}

fn file_frame(path: &str, size: u64) -> Frame {
    Frame::File {
        path: path.to_owned(),
        mode: 0o644,
        size,
        modified: (1_700_000_000, 0),
    }
}

#[test]
fn files_round_trip_with_their_modes_and_times() {
    let setup = setup();
    let paths = ["sub/run".to_owned(), "top.txt".to_owned()];
    let mut stream = Vec::new();
    write_stream(&setup.source, &paths, &mut stream).unwrap();
    let bytes = receive_stream(&setup.layout, &id(), &mut stream.as_slice()).unwrap();
    assert_eq!(bytes, 14);
    let release = setup.layout.release_dir(&id());
    assert_eq!(
        fs::read_to_string(release.join("top.txt")).unwrap(),
        "top\n"
    );
    let run = release.join("sub/run").metadata().unwrap();
    assert_eq!(run.permissions().mode() & 0o7777, 0o750);
    let source = setup.source.join("sub/run").metadata().unwrap();
    assert_eq!(run.modified().unwrap(), source.modified().unwrap());
}

#[test]
fn an_existing_file_is_never_replaced() {
    let setup = setup();
    let release = setup.layout.release_dir(&id());
    fs::write(release.join("top.txt"), "already").unwrap();
    let inode = release.join("top.txt").metadata().unwrap().ino();
    let mut stream = Vec::new();
    write_stream(&setup.source, &["top.txt".to_owned()], &mut stream).unwrap();
    let error = receive_stream(&setup.layout, &id(), &mut stream.as_slice()).unwrap_err();
    assert!(error.message.contains("cannot create"), "{error}");
    assert_eq!(
        fs::read_to_string(release.join("top.txt")).unwrap(),
        "already"
    );
    assert_eq!(release.join("top.txt").metadata().unwrap().ino(), inode);
}

#[test]
fn hostile_paths_are_refused() {
    let setup = setup();
    let release = setup.layout.release_dir(&id());
    let outside = setup.layout.root().join("outside");
    fs::create_dir(&outside).unwrap();
    symlink(&outside, release.join("escape")).unwrap();
    for path in [
        "../outside/x",
        "/tmp/x",
        "escape/x",
        "sub/../../x",
        "",
        "nowhere/x",
    ] {
        let stream = stream_of(&[file_frame(path, 1)], b"x");
        let error = receive_stream(&setup.layout, &id(), &mut stream.as_slice()).unwrap_err();
        assert_eq!(
            error.kind,
            crate::error::ErrorKind::Failed,
            "{path}: {error}"
        );
    }
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    assert!(!setup.layout.root().join("x").exists());
    let mut sink = Vec::new();
    let error = write_stream(&setup.source, &["../secret".to_owned()], &mut sink).unwrap_err();
    assert!(
        error.message.contains("not a plain relative path"),
        "{error}"
    );
}

#[test]
fn a_cut_off_stream_is_an_error() {
    let setup = setup();
    let mut whole = Vec::new();
    write_stream(&setup.source, &["top.txt".to_owned()], &mut whole).unwrap();
    let without_end = &whole[..whole.len() - 1 - br#"{"frame":"end","files":1}"#.len()];
    let error = receive_stream(&setup.layout, &id(), &mut &without_end[..]).unwrap_err();
    assert!(error.message.contains("before its end"), "{error}");
    let inside_a_file = stream_of(&[file_frame("sub/partial", 10)], b"abc");
    let error = receive_stream(&setup.layout, &id(), &mut inside_a_file.as_slice()).unwrap_err();
    assert!(error.message.contains("inside `sub/partial`"), "{error}");
    let error = receive_stream(&setup.layout, &id(), &mut &b"GET / HTTP/1.1\n"[..]).unwrap_err();
    assert!(error.message.contains("not a hoist file stream"), "{error}");
}

#[test]
fn a_release_that_is_not_uploading_takes_no_files() {
    let setup = setup();
    let other: ReleaseId = "20261121T000002Z-0000abcd".parse().unwrap();
    let stream = stream_of(&[Frame::End { files: 0 }], b"");
    let error = receive_stream(&setup.layout, &other, &mut stream.as_slice()).unwrap_err();
    assert!(error.message.contains("not being uploaded"), "{error}");
}

/// Counts bytes and remembers the largest single read or write, to show that streaming
/// goes through small buffers.
#[derive(Default)]
struct Counting<T> {
    inner: T,
    total: u64,
    largest: usize,
}

impl<T: Read> Read for Counting<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.total += read as u64;
        self.largest = self.largest.max(buf.len());
        Ok(read)
    }
}

impl Write for Counting<io::Sink> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.total += buf.len() as u64;
        self.largest = self.largest.max(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_fifty_mebibyte_file_streams_through_small_buffers() {
    const SIZE: u64 = 50 * 1024 * 1024;
    const SMALL: usize = 1024 * 1024;
    let setup = setup();
    let big = File::create(setup.source.join("big.bin")).unwrap();
    big.set_len(SIZE).unwrap();
    let mut sink = Counting {
        inner: io::sink(),
        ..Counting::default()
    };
    write_stream(&setup.source, &["big.bin".to_owned()], &mut sink).unwrap();
    assert!(sink.total > SIZE, "{}", sink.total);
    assert!(sink.largest <= SMALL, "a write of {} bytes", sink.largest);

    let header = stream_of(&[file_frame("big.bin", SIZE)], b"");
    let end = stream_of(&[Frame::End { files: 1 }], b"");
    let stream = Cursor::new(header)
        .chain(io::repeat(7).take(SIZE))
        .chain(Cursor::new(end[MAGIC.len()..].to_vec()));
    let mut source = Counting {
        inner: stream,
        total: 0,
        largest: 0,
    };
    let bytes = receive_stream(&setup.layout, &id(), &mut source).unwrap();
    assert_eq!(bytes, SIZE);
    assert!(
        source.largest <= SMALL,
        "a read of {} bytes",
        source.largest
    );
    let received = setup.layout.release_dir(&id()).join("big.bin");
    assert_eq!(received.metadata().unwrap().len(), SIZE);
}

//! Uploading a release to a remote host in three steps: `prepare_upload` (the host lays out
//! the tree, hard-links what `live` already has and answers with the files it still needs),
//! the needed files (rsync, or the file stream when rsync is missing), `finish_upload`.
//! Only changed files travel, and they arrive as new files.

use std::collections::BTreeSet;
use std::io::{PipeWriter, Write};
use std::thread;

use super::RemoteHost;
use crate::error::{Error, Result};
use crate::hostside::file_stream;
use crate::hostside::host_call::{HostRequest, WireNewRelease};
use crate::ports::host::{Host, NewRelease, UploadReport};
use crate::source_tree::{EntryKind, SourceTree};

pub(super) fn upload(
    host: &RemoteHost,
    release: &NewRelease,
    source: &SourceTree,
) -> Result<UploadReport> {
    let wire = WireNewRelease::from(release);
    let id = &release.info.id;
    let needed: Vec<String> = host.call(&HostRequest::PrepareUpload {
        release: wire.clone(),
        entries: source.entries.clone(),
    })?;
    if let Err(error) = send_needed(host, &release.info.id, source, &needed) {
        let _ = host.mark_failed(id, &error.to_string());
        return Err(error.context(format!(
            "cannot upload release `{id}` to `{}`",
            host.address
        )));
    }
    host.call(&HostRequest::FinishUpload {
        release: wire,
        entries: source.entries.clone(),
    })
}

/// Sends the files the host asked for. Only files of the source tree: a host cannot ask
/// for anything else on this machine.
fn send_needed(
    host: &RemoteHost,
    id: &hoist_core::ReleaseId,
    source: &SourceTree,
    needed: &[String],
) -> Result<()> {
    let files: BTreeSet<&str> = source
        .entries
        .iter()
        .filter(|entry| matches!(entry.kind, EntryKind::File { .. }))
        .map(|entry| entry.path.as_str())
        .collect();
    if let Some(stranger) = needed.iter().find(|path| !files.contains(path.as_str())) {
        return Err(Error::internal(format!(
            "`{}` asked for `{stranger}`, which is not a file of the release",
            host.address
        )));
    }
    if needed.is_empty() {
        return Ok(());
    }
    if host.has_rsync() {
        let release_dir = host.root.join("releases").join(id.as_str());
        return host
            .transport
            .rsync_files(&source.root, needed, &release_dir);
    }
    stream(host, id, source, needed)
}

/// Streams the files into `hoist host receive ID` through a pipe: a thread writes the
/// stream while the transport sends it, so the tree is never held in memory.
fn stream(
    host: &RemoteHost,
    id: &hoist_core::ReleaseId,
    source: &SourceTree,
    needed: &[String],
) -> Result<()> {
    let argv = host.argv(&["receive", id.as_str()])?;
    let (mut reader, writer) =
        std::io::pipe().map_err(|e| Error::internal("cannot create a pipe").cause(e))?;
    let mut pipe = PipeEnd {
        writer,
        broken: false,
    };
    let (sent, written) = thread::scope(|scope| {
        let writing = scope.spawn(move || {
            let written = file_stream::write_stream(&source.root, needed, &mut pipe);
            // Dropping `pipe` closes it, which ends the stream for the reader.
            (written, pipe.broken)
        });
        let sent = host.transport.run(&argv, &mut reader);
        // A receiver that stopped early leaves the writer blocked: closing our end frees it.
        drop(reader);
        let written = writing.join().unwrap_or_else(|_| {
            let panicked = Error::internal("the file stream writer panicked");
            (Err(panicked), false)
        });
        (sent, written)
    });
    let received = sent.and_then(|output| host.answer::<u64>(&output, "receive"));
    match (received, written) {
        // The pipe broke because the host stopped reading: its answer says why.
        (Err(error), (_, true)) => Err(error),
        (_, (Err(error), _)) | (Err(error), _) => Err(error),
        (Ok(_), (Ok(()), _)) => Ok(()),
    }
}

/// The writing end of the pipe, remembering whether a write failed (the reader went away)
/// as opposed to reading a local file.
struct PipeEnd {
    writer: PipeWriter,
    broken: bool,
}

impl Write for PipeEnd {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.writer.write(buf);
        self.broken |= written.is_err();
        written
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let flushed = self.writer.flush();
        self.broken |= flushed.is_err();
        flushed
    }
}

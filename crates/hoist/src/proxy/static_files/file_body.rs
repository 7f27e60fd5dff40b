//! A response body read from an open file in chunks, as the connection takes them: a large
//! file never sits in memory whole, and it is read from the descriptor opened for the
//! request, so a `live` switch meanwhile does not mix two releases into one body.
//!
//! Reads happen on the serving thread itself. A read from the page cache takes a few
//! microseconds; handing each one to tokio's blocking pool and back costs more than that in
//! cross-thread wake-ups (measured: see docs/BENCHMARKS.md, "Static files").

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::proxy::forward::BodyError;

/// How much is read at a time: large enough that a 1 MB file takes a few reads and writes,
/// small enough that many concurrent downloads stay cheap.
pub const CHUNK: u64 = 256 * 1024;

#[derive(Debug)]
pub struct FileBody {
    file: File,
    remaining: u64,
}

impl FileBody {
    /// `length` bytes of `file` from `start`.
    pub fn new(mut file: File, start: u64, length: u64) -> io::Result<Self> {
        if start > 0 {
            file.seek(SeekFrom::Start(start))?;
        }
        Ok(Self {
            file,
            remaining: length,
        })
    }

    /// Reads what is left in one go (for a small file).
    pub fn read_rest(self) -> io::Result<Bytes> {
        read(&self.file, self.remaining)
    }
}

/// The next `length` bytes of `file`, all of them.
fn read(file: &File, length: u64) -> io::Result<Bytes> {
    let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(usize::MAX));
    // `read_to_end` fills the spare capacity without zeroing it first.
    let read = file.take(length).read_to_end(&mut bytes)?;
    if read as u64 == length {
        Ok(Bytes::from(bytes))
    } else {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file shrank while it was being sent",
        ))
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        _context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let length = this.remaining.min(CHUNK);
        Poll::Ready(Some(match read(&this.file, length) {
            Ok(chunk) => {
                this.remaining -= length;
                Ok(Frame::data(chunk))
            }
            Err(error) => Err(error.into()),
        }))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn a_range_of_a_large_file_streams_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        let content: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();

        let mut body = FileBody::new(File::open(&path).unwrap(), 5, 2 * CHUNK + 3).unwrap();
        let mut frames = 0;
        let mut received = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            assert!(data.len() as u64 <= CHUNK);
            received.extend_from_slice(&data);
            frames += 1;
        }
        assert_eq!(frames, 3);
        assert_eq!(received, content[5..5 + 2 * CHUNK as usize + 3]);
    }

    #[tokio::test]
    async fn a_file_that_shrank_ends_the_body_with_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.bin");
        std::fs::write(&path, [1u8; 10]).unwrap();
        let mut body = FileBody::new(File::open(&path).unwrap(), 0, 20).unwrap();
        let error = body.frame().await.unwrap().unwrap_err();
        assert!(error.to_string().contains("shrank"), "{error}");
    }
}

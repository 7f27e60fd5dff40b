//! Interim service log writer (the `logs` branch replaces this file with the full one:
//! rotation, reader, cursor). Line format: `{RFC 3339 ms}\t{out|err|hoist}\t{text}\n`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Out,
    Err,
    Hoist,
}

impl LogStream {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Out => "out",
            Self::Err => "err",
            Self::Hoist => "hoist",
        }
    }
}

#[derive(Debug)]
pub struct ServiceLogWriter {
    path: PathBuf,
    file: File,
}

impl ServiceLogWriter {
    pub fn open(path: &Path, _max_bytes: u64, _keep: u32) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io("open the log", path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn write_line(&mut self, stream: LogStream, text: &[u8], at: jiff::Timestamp) -> Result<()> {
        let text = String::from_utf8_lossy(text);
        let line = format!(
            "{}\t{}\t{}\n",
            at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
            stream.as_str(),
            text.replace(['\r', '\n'], " ")
        );
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| Error::io("write the log", &self.path, e))
    }
}

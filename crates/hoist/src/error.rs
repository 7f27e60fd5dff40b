//! The one error type of the binary: a message, the chain of causes, `hint:` lines and the
//! exit code it maps to. Printed in one place (`cli::report`).

use std::fmt;

/// What kind of failure an error is, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A step failed or the input was bad: exit 1.
    Failed,
    /// A bug or an environment problem hoist did not expect: exit 2.
    Internal,
    /// The environment is locked by another command: exit 3.
    Locked,
}

impl ErrorKind {
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Failed => 1,
            Self::Internal => 2,
            Self::Locked => 3,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub causes: Vec<String>,
    pub hints: Vec<String>,
    /// The command already printed its answer on stdout (`check --json` with drift): the
    /// error only sets the exit code and explains on stderr.
    pub answered: bool,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Marks the answer as already printed on stdout.
    pub fn answered(mut self) -> Self {
        self.answered = true;
        self
    }

    /// A failure caused by input or a failed step (exit 1).
    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Failed,
            message: message.into(),
            causes: Vec::new(),
            hints: Vec::new(),
            answered: false,
        }
    }

    /// An unexpected failure (exit 2).
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Internal,
            ..Self::failed(message)
        }
    }

    /// The environment is held by someone else (exit 3).
    pub fn locked(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Locked,
            ..Self::failed(message)
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn cause(mut self, cause: impl fmt::Display) -> Self {
        self.causes.push(cause.to_string());
        self
    }

    /// Wraps this error under a new, outer message; the old message becomes the first cause.
    pub fn context(mut self, message: impl Into<String>) -> Self {
        let inner = std::mem::replace(&mut self.message, message.into());
        self.causes.insert(0, inner);
        self
    }

    /// An I/O error on `path` while doing `what`.
    pub fn io(what: &str, path: &std::path::Path, error: std::io::Error) -> Self {
        Self::internal(format!("cannot {what} `{}`", path.display())).cause(error)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for cause in &self.causes {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// `.context("…")` on any result whose error can become an `Error`.
pub trait ResultExt<T> {
    fn context(self, message: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn context(self, message: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|error| error.into().context(message()))
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Self {
        Self::internal(error.to_string())
    }
}

macro_rules! from_core_error_with_hint {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for Error {
            fn from(error: $ty) -> Self {
                let hint = error.hint();
                Self::failed(error.to_string()).hint(hint)
            }
        }
    )*};
}

from_core_error_with_hint!(
    hoist_core::env_name::EnvNameError,
    hoist_core::release_id::ReleaseIdError,
    hoist_core::host_address::HostAddressError,
    hoist_core::duration::DurationError,
    hoist_core::release_chain::ChainError,
);

impl From<hoist_core::lifecycle::Refusal> for Error {
    fn from(refusal: hoist_core::lifecycle::Refusal) -> Self {
        Self::failed(refusal.to_string()).hint(refusal.hint)
    }
}

//! The response envelope: `{"ok": <value>}` or `{"error": {kind, message, causes, hints}}`,
//! so an `Error` comes back from a host exactly as it was made there.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// One response: the operation's value, or the error it failed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostResponse {
    Ok(serde_json::Value),
    Error(WireError),
}

impl HostResponse {
    pub fn from_result<T: Serialize>(result: Result<T>) -> Self {
        match result.and_then(|value| {
            serde_json::to_value(value)
                .map_err(|e| Error::internal("cannot encode the response").cause(e))
        }) {
            Ok(value) => Self::Ok(value),
            Err(error) => Self::Error(WireError::from(&error)),
        }
    }

    /// The value as `T`, or the error the host sent back.
    pub fn into_result<T: DeserializeOwned>(self) -> Result<T> {
        match self {
            Self::Ok(value) => serde_json::from_value(value).map_err(|error| {
                Error::internal("the host's answer does not have the expected shape").cause(error)
            }),
            Self::Error(error) => Err(error.into()),
        }
    }
}

/// `crate::error::Error` as it travels: everything, so the kind (and so the exit code),
/// causes and hints survive the trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    pub kind: WireErrorKind,
    pub message: String,
    #[serde(default)]
    pub causes: Vec<String>,
    #[serde(default)]
    pub hints: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireErrorKind {
    Failed,
    Internal,
    Locked,
}

impl From<&Error> for WireError {
    fn from(error: &Error) -> Self {
        let kind = match error.kind {
            ErrorKind::Failed => WireErrorKind::Failed,
            ErrorKind::Internal => WireErrorKind::Internal,
            ErrorKind::Locked => WireErrorKind::Locked,
        };
        Self {
            kind,
            message: error.message.clone(),
            causes: error.causes.clone(),
            hints: error.hints.clone(),
        }
    }
}

impl From<WireError> for Error {
    fn from(wire: WireError) -> Self {
        let kind = match wire.kind {
            WireErrorKind::Failed => ErrorKind::Failed,
            WireErrorKind::Internal => ErrorKind::Internal,
            WireErrorKind::Locked => ErrorKind::Locked,
        };
        Error {
            kind,
            message: wire.message,
            causes: wire.causes,
            hints: wire.hints,
            answered: false,
        }
    }
}

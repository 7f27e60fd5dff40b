//! The spec's health check on the wire and in instance records: durations in
//! milliseconds, the status range as two numbers.

use std::time::Duration;

use hoist_core::spec::{Health, HealthCheck, StatusRange};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The spec's health check, durations in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireHealth {
    pub check: WireHealthCheck,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub deadline_ms: u64,
    pub successes: u32,
    pub initial_delay_ms: u64,
}

/// `HealthCheck`, tagged by `kind` as in the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireHealthCheck {
    Http {
        path: String,
        expect_low: u16,
        expect_high: u16,
        body_contains: Option<String>,
        host: Option<String>,
    },
    Tcp,
    Command {
        command: String,
    },
}

impl From<&Health> for WireHealth {
    fn from(health: &Health) -> Self {
        let check = match &health.check {
            HealthCheck::Http {
                path,
                expect,
                body_contains,
                host,
            } => WireHealthCheck::Http {
                path: path.clone(),
                expect_low: expect.low(),
                expect_high: expect.high(),
                body_contains: body_contains.clone(),
                host: host.clone(),
            },
            HealthCheck::Tcp => WireHealthCheck::Tcp,
            HealthCheck::Command { command } => WireHealthCheck::Command {
                command: command.clone(),
            },
        };
        Self {
            check,
            interval_ms: millis(health.interval),
            timeout_ms: millis(health.timeout),
            deadline_ms: millis(health.deadline),
            successes: health.successes,
            initial_delay_ms: millis(health.initial_delay),
        }
    }
}

impl TryFrom<WireHealth> for Health {
    type Error = Error;

    fn try_from(health: WireHealth) -> Result<Self> {
        let check = match health.check {
            WireHealthCheck::Http {
                path,
                expect_low,
                expect_high,
                body_contains,
                host,
            } => HealthCheck::Http {
                path,
                expect: StatusRange::new(expect_low, expect_high).ok_or_else(|| {
                    Error::internal(format!(
                        "health status range {expect_low}-{expect_high} is not within 100-599"
                    ))
                })?,
                body_contains,
                host,
            },
            WireHealthCheck::Tcp => HealthCheck::Tcp,
            WireHealthCheck::Command { command } => HealthCheck::Command { command },
        };
        Ok(Self {
            check,
            interval: Duration::from_millis(health.interval_ms),
            timeout: Duration::from_millis(health.timeout_ms),
            deadline: Duration::from_millis(health.deadline_ms),
            successes: health.successes,
            initial_delay: Duration::from_millis(health.initial_delay_ms),
        })
    }
}

/// Milliseconds, saturating: a duration beyond `u64` millis is forever anyway.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

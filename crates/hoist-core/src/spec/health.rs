//! `[service.health]`: the readiness check a new release must pass — an HTTP request, a TCP
//! connect or a shell command — and its timing. Owns the types and their reading from the
//! spec; the probing itself is an adapter's job.

use std::fmt;
use std::time::Duration;

use super::problems::Problems;
use super::section::{Field, Section};
use super::{defaults, suggest};
use crate::duration::format_duration;

const COMMON_KEYS: &[&str] = &[
    "kind",
    "interval",
    "timeout",
    "deadline",
    "successes",
    "initial_delay",
    "liveness_interval",
    "liveness_failures",
];
const HTTP_KEYS: &[&str] = &["path", "expect_status", "body_contains", "host"];
const COMMAND_KEYS: &[&str] = &["command"];
const KINDS: &[&str] = &["http", "tcp", "command"];

#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub check: HealthCheck,
    pub interval: Duration,
    /// Per-try timeout.
    pub timeout: Duration,
    /// Overall deadline before the release is declared unhealthy.
    pub deadline: Duration,
    /// Consecutive successful tries needed.
    pub successes: u32,
    /// Waited before the first try, for services known to start slowly.
    pub initial_delay: Duration,
}

/// What one try does, against `127.0.0.1:$PORT` or in the release directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheck {
    /// `GET path`; healthy when the status is in `expect` and the body holds `body_contains`.
    Http {
        /// Starts with `/`, no whitespace.
        path: String,
        expect: StatusRange,
        body_contains: Option<String>,
        /// The `Host` header sent (default `127.0.0.1:PORT`): `name` or `name:port`.
        host: Option<String>,
    },
    /// Healthy when a TCP connection is accepted.
    Tcp,
    /// `sh -c command` in the release directory with `$PORT` set; healthy on exit 0.
    Command { command: String },
}

/// HTTP statuses `low..=high`, both in 100–599; one status is `low == high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRange {
    low: u16,
    high: u16,
}

impl StatusRange {
    /// `None` unless `100 <= low <= high <= 599`.
    pub fn new(low: u16, high: u16) -> Option<Self> {
        (100 <= low && low <= high && high <= 599).then_some(Self { low, high })
    }

    pub fn low(self) -> u16 {
        self.low
    }

    pub fn high(self) -> u16 {
        self.high
    }

    pub fn contains(self, status: u16) -> bool {
        (self.low..=self.high).contains(&status)
    }
}

impl fmt::Display for StatusRange {
    /// As written in the spec: `200` or `200-399`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.low == self.high {
            true => write!(f, "{}", self.low),
            false => write!(f, "{}-{}", self.low, self.high),
        }
    }
}

impl HealthCheck {
    /// For messages: `GET /health`, `TCP :8080`, `command ./check.sh`.
    pub fn describe(&self, port: u16) -> String {
        match self {
            Self::Http { path, expect, .. } => format!("GET {path} (expecting {expect})"),
            Self::Tcp => format!("TCP :{port}"),
            Self::Command { command } => format!("command {command}"),
        }
    }
}

pub(super) fn read_health(section: &Section<'_>, problems: &mut Problems) -> Health {
    let kind = section.field("kind").and_then(|field| {
        let text = field.text();
        let kind = text
            .as_ref()
            .map(|text| text.value)
            .filter(|kind| KINDS.contains(kind));
        if kind.is_none() {
            let hint = match text.and_then(|text| suggest::closest(text.value, KINDS)) {
                Some(close) => format!("did you mean `{close}`?"),
                None => {
                    "`http` requests `path`, `tcp` connects, `command` runs a command".to_owned()
                }
            };
            problems.error_with_hint(
                field.span(),
                "health `kind` must be `\"http\"`, `\"tcp\"` or `\"command\"`",
                hint,
            );
        }
        kind
    });
    let kind = kind.unwrap_or(defaults::HEALTH_KIND);
    let known: Vec<&str> = COMMON_KEYS
        .iter()
        .chain(HTTP_KEYS)
        .chain(COMMAND_KEYS)
        .copied()
        .collect();
    section.check_keys(&known, problems);
    let check = match kind {
        "tcp" => {
            refuse_keys(
                section,
                HTTP_KEYS.iter().chain(COMMAND_KEYS),
                kind,
                problems,
            );
            HealthCheck::Tcp
        }
        "command" => {
            refuse_keys(section, HTTP_KEYS, kind, problems);
            HealthCheck::Command {
                command: read_command(section, problems),
            }
        }
        _ => {
            refuse_keys(section, COMMAND_KEYS, kind, problems);
            read_http(section, problems)
        }
    };

    let duration = |key, default, zero_allowed, problems: &mut Problems| {
        section
            .field(key)
            .and_then(|field| field.duration(zero_allowed, problems))
            .unwrap_or(default)
    };
    let interval = duration("interval", defaults::HEALTH_INTERVAL, false, problems);
    let timeout = duration("timeout", defaults::HEALTH_TIMEOUT, false, problems);
    let deadline = duration("deadline", defaults::HEALTH_DEADLINE, false, problems);
    let initial_delay = duration(
        "initial_delay",
        defaults::HEALTH_INITIAL_DELAY,
        true,
        problems,
    );
    if deadline < timeout {
        let span = section
            .field("deadline")
            .or_else(|| section.field("timeout"))
            .and_then(|field| field.span());
        problems.error(
            span,
            format!(
                "health `deadline` ({}) must be at least `timeout` ({})",
                format_duration(deadline),
                format_duration(timeout),
            ),
        );
    }
    let successes = section
        .field("successes")
        .and_then(|field| field.integer(1, i64::from(u32::MAX), problems))
        .and_then(|successes| u32::try_from(successes).ok())
        .unwrap_or(defaults::HEALTH_SUCCESSES);
    Health {
        check,
        interval,
        timeout,
        deadline,
        successes,
        initial_delay,
    }
}

/// The shortest `liveness_interval` other than off: each instance's probing thread would
/// otherwise keep a core (and the service) busy.
const MIN_LIVENESS_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// `liveness_interval` and `liveness_failures` of `[service.health]`: read beside the check,
/// kept on the service (they concern the supervisor, not a deploy's readiness probe).
pub(super) fn read_liveness(
    section: Option<&Section<'_>>,
    problems: &mut Problems,
) -> crate::supervision::Liveness {
    let field = section.and_then(|section| section.field("liveness_interval"));
    let interval = field
        .as_ref()
        .and_then(|field| field.duration(true, problems))
        .unwrap_or(defaults::LIVENESS_INTERVAL);
    if !interval.is_zero() && interval < MIN_LIVENESS_INTERVAL {
        problems.error_with_hint(
            field.as_ref().and_then(|field| field.span()),
            format!(
                "`liveness_interval` ({}) is too short: probes would run back to back",
                format_duration(interval)
            ),
            format!(
                "use at least `\"{}\"`, or `\"0s\"` to turn liveness probes off",
                format_duration(MIN_LIVENESS_INTERVAL)
            ),
        );
    }
    let failures = section
        .and_then(|section| section.field("liveness_failures"))
        .and_then(|field| field.integer(1, 1_000, problems))
        .and_then(|failures| u32::try_from(failures).ok())
        .unwrap_or(defaults::LIVENESS_FAILURES);
    crate::supervision::Liveness { interval, failures }
}

/// Keys of another kind are mistakes, not silently ignored settings.
fn refuse_keys<'key>(
    section: &Section<'_>,
    keys: impl IntoIterator<Item = &'key &'key str>,
    kind: &str,
    problems: &mut Problems,
) {
    for key in keys {
        if let Some(field) = section.field(key) {
            let owner = match COMMAND_KEYS.contains(key) {
                true => "command",
                false => "http",
            };
            problems.error_with_hint(
                field.key_span.clone(),
                format!("health `{key}` does not apply to `kind = \"{kind}\"`"),
                format!("`{key}` belongs to `kind = \"{owner}\"`; remove it or change `kind`"),
            );
        }
    }
}

fn read_command(section: &Section<'_>, problems: &mut Problems) -> String {
    section
        .required("command", "command = \"./check.sh\"", problems)
        .and_then(|field| {
            let text = field.string(problems)?;
            if text.value.trim().is_empty() {
                problems.error(text.span, "health `command` must not be empty");
                return None;
            }
            Some(text.value.to_owned())
        })
        .unwrap_or_default()
}

fn read_http(section: &Section<'_>, problems: &mut Problems) -> HealthCheck {
    let path = section
        .required("path", "path = \"/health\"", problems)
        .and_then(|field| {
            let text = field.string(problems)?;
            if !text.value.starts_with('/') || !is_clean(text.value) {
                problems.error_with_hint(
                    text.span,
                    format!(
                        "health `path` `{}` must be a URL path starting with `/`",
                        text.value
                    ),
                    "write the path the service answers on, like `/health` or `/`",
                );
                return None;
            }
            Some(text.value.to_owned())
        })
        .unwrap_or_default();
    let default_expect = StatusRange {
        low: defaults::HEALTH_EXPECT_STATUS,
        high: defaults::HEALTH_EXPECT_STATUS,
    };
    let expect = section
        .field("expect_status")
        .and_then(|field| read_status_range(&field, problems))
        .unwrap_or(default_expect);
    let body_contains = section.field("body_contains").and_then(|field| {
        let text = field.string(problems)?;
        if text.value.is_empty() {
            problems.error(text.span, "health `body_contains` must not be empty");
            return None;
        }
        Some(text.value.to_owned())
    });
    let host = section.field("host").and_then(|field| {
        let text = field.string(problems)?;
        if !is_host_header(text.value) {
            problems.error_with_hint(
                text.span,
                format!(
                    "health `host` `{}` must be a host name with an optional port",
                    text.value.escape_debug()
                ),
                "write the name the service answers to, like `app.example` or `app.example:8080`",
            );
            return None;
        }
        Some(text.value.to_owned())
    });
    HealthCheck::Http {
        path,
        expect,
        body_contains,
        host,
    }
}

/// `200` or `"200-399"`.
fn read_status_range(field: &Field<'_>, problems: &mut Problems) -> Option<StatusRange> {
    let Some(text) = field.text() else {
        if field.item.as_integer().is_none() {
            problems.error_with_hint(
                field.span(),
                "`expect_status` must be a status like `200` or a range like `\"200-399\"`",
                "statuses go from 100 to 599",
            );
            return None;
        }
        let status = field.integer(100, 599, problems)?;
        let status = u16::try_from(status).ok()?;
        return Some(StatusRange {
            low: status,
            high: status,
        });
    };
    let range = text.value.split_once('-').and_then(|(low, high)| {
        StatusRange::new(low.trim().parse().ok()?, high.trim().parse().ok()?)
    });
    if range.is_none() {
        problems.error_with_hint(
            text.span,
            format!(
                "`expect_status` `{}` must be a range like `\"200-399\"`",
                text.value
            ),
            "both ends go from 100 to 599, the lower one first",
        );
    }
    range
}

fn is_clean(text: &str) -> bool {
    !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `name` or `name:port`: letters, digits, `-`, `.`, nothing that could break the header.
fn is_host_header(text: &str) -> bool {
    let (name, port) = match text.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (text, None),
    };
    let name_ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
    let port_ok = port.is_none_or(|port| port.parse::<u16>().is_ok_and(|port| port > 0));
    name_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ranges_are_bounded_and_ordered() {
        assert!(StatusRange::new(200, 399).is_some_and(|range| range.contains(302)));
        assert!(StatusRange::new(200, 399).is_some_and(|range| !range.contains(400)));
        assert_eq!(StatusRange::new(400, 200), None);
        assert_eq!(StatusRange::new(99, 200), None);
        assert_eq!(StatusRange::new(200, 600), None);
        assert_eq!(
            StatusRange::new(200, 399).map(|range| range.to_string()),
            Some("200-399".to_owned())
        );
        assert_eq!(
            StatusRange::new(204, 204).map(|range| range.to_string()),
            Some("204".to_owned())
        );
    }

    #[test]
    fn host_headers_are_plain_names() {
        assert!(is_host_header("app.example"));
        assert!(is_host_header("app.example:8080"));
        assert!(is_host_header("localhost"));
        assert!(!is_host_header("app example"));
        assert!(!is_host_header("app\r\nX-Evil: 1"));
        assert!(!is_host_header("app:port"));
        assert!(!is_host_header(":80"));
        assert!(!is_host_header(""));
    }

    #[test]
    fn checks_describe_themselves() {
        let http = HealthCheck::Http {
            path: "/health".to_owned(),
            expect: StatusRange::new(200, 200).unwrap(),
            body_contains: None,
            host: None,
        };
        assert_eq!(http.describe(8080), "GET /health (expecting 200)");
        assert_eq!(HealthCheck::Tcp.describe(8080), "TCP :8080");
        let command = HealthCheck::Command {
            command: "./check.sh".to_owned(),
        };
        assert_eq!(command.describe(8080), "command ./check.sh");
    }
}

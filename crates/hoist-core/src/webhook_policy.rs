//! Webhooks, as decisions: which events a hook receives, when a failed delivery is tried
//! again (and when it is given up), and how a body is signed. Pure: the caller supplies the
//! time, the secret and the body.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::EnvName;

/// The header carrying `sha256=<hex HMAC-SHA256 of the body, keyed with the hook's secret>`.
pub const SIGNATURE_HEADER: &str = "X-Hoist-Signature-256";
/// The header carrying the delivery's id: the same on every retry of one delivery.
pub const DELIVERY_HEADER: &str = "X-Hoist-Delivery";
/// The header carrying the event's kind (`command.succeeded`, `step.failed`, …).
pub const EVENT_HEADER: &str = "X-Hoist-Event";

/// How long to wait after the first, second, … failed attempt. After the last, the
/// delivery is given up (`failed`): six attempts over about 13 minutes.
pub const RETRY_DELAYS: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
];

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not sent yet, or to be tried again at `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; no more will be made.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown delivery status `{0}`")]
pub struct UnknownDeliveryStatus(String);

impl FromStr for DeliveryStatus {
    type Err = UnknownDeliveryStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "failed" => Ok(Self::Failed),
            other => Err(UnknownDeliveryStatus(other.to_owned())),
        }
    }
}

/// What a hook listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookScope<'a> {
    /// `None`: every environment's events and those of none (global).
    pub env: Option<&'a EnvName>,
    /// Kind prefixes on dot boundaries (`command` takes `command.started`); empty: all.
    pub kinds: &'a [String],
    /// The newest event when the hook was added: it receives only later ones.
    pub after_event_id: i64,
}

/// Whether a hook with `scope` receives event `event_id` of `env` and `kind`.
pub fn receives(scope: &HookScope<'_>, event_id: i64, env: Option<&EnvName>, kind: &str) -> bool {
    if event_id <= scope.after_event_id {
        return false;
    }
    if let Some(wanted) = scope.env
        && env != Some(wanted)
    {
        return false;
    }
    scope.kinds.is_empty()
        || scope
            .kinds
            .iter()
            .any(|prefix| kind_matches(prefix.trim_end_matches('.'), kind))
}

fn kind_matches(prefix: &str, kind: &str) -> bool {
    kind == prefix
        || kind
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Whether a kind prefix is well formed: dotted lowercase words (`command`, `step.failed`).
pub fn valid_kind_prefix(prefix: &str) -> bool {
    let prefix = prefix.strip_suffix('.').unwrap_or(prefix);
    !prefix.is_empty()
        && prefix.split('.').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        })
}

/// How long a gap in event ids may still be filled by a slower writer's commit (PostgreSQL
/// hands out ids before commit): the cursor does not pass a gap younger than this.
pub const SETTLE: Duration = Duration::from_secs(5);

/// Where the delivery cursor may move after reading `events` (ids ascending, with their
/// times) past `cursor`: to the last event before the first gap in ids that is younger
/// than `settled_before`. Deliveries are still made for every event read; the ones after
/// such a gap are read again next time, which makes nothing twice.
pub fn cursor_after(cursor: i64, events: &[(i64, Timestamp)], settled_before: Timestamp) -> i64 {
    let mut moved = cursor;
    for (id, at) in events {
        if *id != moved.saturating_add(1) && *at > settled_before {
            break;
        }
        moved = *id;
    }
    moved
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextStep {
    pub status: DeliveryStatus,
    /// When to try again (pending only).
    pub next_attempt_at: Option<Timestamp>,
}

/// The delivery's state after its `attempts`-th attempt (counting this one), made at `now`.
pub fn after_attempt(attempts: u32, delivered: bool, now: Timestamp) -> NextStep {
    if delivered {
        return NextStep {
            status: DeliveryStatus::Delivered,
            next_attempt_at: None,
        };
    }
    let delay = usize::try_from(attempts.saturating_sub(1))
        .ok()
        .and_then(|index| RETRY_DELAYS.get(index));
    let next = delay.and_then(|delay| {
        SignedDuration::try_from(*delay)
            .ok()
            .and_then(|delay| now.checked_add(delay).ok())
    });
    match next {
        Some(at) => NextStep {
            status: DeliveryStatus::Pending,
            next_attempt_at: Some(at),
        },
        None => NextStep {
            status: DeliveryStatus::Failed,
            next_attempt_at: None,
        },
    }
}

/// Whether an HTTP status counts as delivered.
pub fn is_delivered(status: u16) -> bool {
    (200..300).contains(&status)
}

/// The `X-Hoist-Signature-256` value of `body` under `secret`: `sha256=<lowercase hex>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex(&mac(secret, body).finalize().into_bytes()))
}

/// Whether `header` is the signature of `body` under `secret` (compared in constant time).
pub fn verify_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(bytes) = header.strip_prefix("sha256=").and_then(unhex) else {
        return false;
    };
    mac(secret, body).verify_slice(&bytes).is_ok()
}

fn mac(secret: &[u8], body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length (long ones are hashed first), so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
    mac.update(body);
    mac
}

/// How a stored secret is shown after it was added: a fingerprint (the first 8 hex digits of
/// its SHA-256), enough to tell two secrets apart, nothing to sign with.
pub fn masked_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let fingerprint = hex(&digest);
    format!("sha256:{}…", fingerprint.get(..8).unwrap_or(&fingerprint))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> EnvName {
        name.parse().unwrap()
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_795_000_000 + seconds).unwrap()
    }

    #[test]
    fn a_global_hook_receives_every_environment_and_none() {
        let scope = HookScope {
            env: None,
            kinds: &[],
            after_event_id: 0,
        };
        assert!(receives(&scope, 1, Some(&env("prod")), "command.started"));
        assert!(receives(&scope, 2, None, "token.created"));
    }

    #[test]
    fn an_environment_hook_receives_only_its_environment() {
        let prod = env("prod");
        let scope = HookScope {
            env: Some(&prod),
            kinds: &[],
            after_event_id: 0,
        };
        assert!(receives(&scope, 1, Some(&prod), "command.started"));
        assert!(!receives(
            &scope,
            2,
            Some(&env("staging")),
            "command.started"
        ));
        assert!(!receives(&scope, 3, None, "token.created"));
    }

    #[test]
    fn kind_prefixes_match_on_dot_boundaries() {
        let kinds = ["command".to_owned(), "step.failed.".to_owned()];
        let scope = HookScope {
            env: None,
            kinds: &kinds,
            after_event_id: 0,
        };
        assert!(receives(&scope, 1, None, "command.started"));
        assert!(receives(&scope, 1, None, "command"));
        assert!(receives(&scope, 1, None, "step.failed"));
        assert!(!receives(&scope, 1, None, "step.succeeded"));
        assert!(!receives(&scope, 1, None, "commands.listed"));
        assert!(!receives(&scope, 1, None, "env.state"));
    }

    #[test]
    fn a_hook_receives_only_events_after_it_was_added() {
        let scope = HookScope {
            env: None,
            kinds: &[],
            after_event_id: 41,
        };
        assert!(!receives(&scope, 40, None, "command.started"));
        assert!(!receives(&scope, 41, None, "command.started"));
        assert!(receives(&scope, 42, None, "command.started"));
    }

    #[test]
    fn the_cursor_waits_at_a_young_gap_and_passes_an_old_one() {
        let settled = at(100);
        let old = at(50);
        let young = at(101);
        assert_eq!(cursor_after(0, &[(1, young), (2, young)], settled), 2);
        assert_eq!(
            cursor_after(3, &[(4, old), (6, young), (7, young)], settled),
            4
        );
        assert_eq!(
            cursor_after(3, &[(5, old), (6, young), (9, old)], settled),
            9
        );
        assert_eq!(cursor_after(3, &[(6, young)], settled), 3);
        assert_eq!(cursor_after(3, &[], settled), 3);
    }

    #[test]
    fn kind_prefixes_are_dotted_lowercase_words() {
        for good in ["command", "step.failed", "env.", "release.live"] {
            assert!(valid_kind_prefix(good), "{good}");
        }
        for bad in ["", ".", "Command", "step..failed", "a b", "*"] {
            assert!(!valid_kind_prefix(bad), "{bad}");
        }
    }

    #[test]
    fn retries_follow_the_schedule_then_give_up() {
        let now = at(0);
        let delays: Vec<_> = (1..=5)
            .map(|attempt| {
                let next = after_attempt(attempt, false, now);
                assert_eq!(next.status, DeliveryStatus::Pending);
                next.next_attempt_at.unwrap().duration_since(now).as_secs()
            })
            .collect();
        assert_eq!(delays, [1, 5, 30, 120, 600]);
        assert_eq!(
            after_attempt(6, false, now),
            NextStep {
                status: DeliveryStatus::Failed,
                next_attempt_at: None
            }
        );
        assert_eq!(
            after_attempt(3, true, now),
            NextStep {
                status: DeliveryStatus::Delivered,
                next_attempt_at: None
            }
        );
    }

    #[test]
    fn only_2xx_counts_as_delivered() {
        assert!(is_delivered(200) && is_delivered(204));
        assert!(!is_delivered(301) && !is_delivered(500) && !is_delivered(199));
    }

    #[test]
    fn the_signature_is_hmac_sha256_in_hex() {
        // RFC 4231, test case 2.
        let body = b"what do ya want for nothing?";
        assert_eq!(
            signature(b"Jefe", body),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify_signature(b"Jefe", body, &signature(b"Jefe", body)));
        assert!(!verify_signature(b"jefe", body, &signature(b"Jefe", body)));
        assert!(!verify_signature(
            b"Jefe",
            b"other",
            &signature(b"Jefe", body)
        ));
        assert!(!verify_signature(b"Jefe", body, "sha256=zz"));
        assert!(!verify_signature(b"Jefe", body, "md5=00"));
    }

    #[test]
    fn a_masked_secret_does_not_contain_the_secret() {
        let shown = masked_secret("s3cret-value");
        assert!(shown.starts_with("sha256:") && shown.ends_with('…'));
        assert!(!shown.contains("s3cret"));
        assert_ne!(shown, masked_secret("other-secret"));
    }

    #[test]
    fn statuses_round_trip() {
        for status in [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
        ] {
            assert_eq!(status.as_str().parse::<DeliveryStatus>().unwrap(), status);
        }
        assert!("sent".parse::<DeliveryStatus>().is_err());
    }
}

//! The arguments of `events` and `webhooks`, kept apart from `args.rs` so the timeline's
//! flags live in one place. Values are parsed into core types here, like everywhere.

use std::time::Duration;

use clap::{Args, Subcommand};
use hoist_core::EnvName;
use hoist_core::duration::parse_duration;
use hoist_core::webhook_url::WebhookUrl;
use jiff::Timestamp;

use crate::cli::value_parsers::env_name;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this environment's events
    #[arg(value_parser = env_name)]
    pub env: Option<EnvName>,
    /// Only this command's events
    #[arg(long = "command", value_name = "ID")]
    pub command_id: Option<i64>,
    /// Only events since this time (RFC 3339, e.g. `2026-12-03T09:00:00Z`) or this long ago (`1h`)
    #[arg(long, value_name = "TIME|DURATION", value_parser = since)]
    pub since: Option<Since>,
    /// Show the newest this many (0: all)
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub limit: usize,
    /// Keep printing events as they are recorded, until interrupted
    #[arg(long)]
    pub follow: bool,
}

/// `--since`: a time, or a duration before now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    At(Timestamp),
    Ago(Duration),
}

impl Since {
    /// The time it names, given the time now.
    pub fn time(self, now: Timestamp) -> Timestamp {
        match self {
            Self::At(at) => at,
            Self::Ago(ago) => jiff::SignedDuration::try_from(ago)
                .ok()
                .and_then(|ago| now.checked_sub(ago).ok())
                .unwrap_or(Timestamp::MIN),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Send events to a URL, signed with HMAC-SHA256 (`X-Hoist-Signature-256`)
    Add {
        /// The receiver: `http://host[:port]/path` or `https://…` (a private CA: `HOIST_CA_FILE`)
        #[arg(value_parser = webhook_url)]
        url: WebhookUrl,
        /// Only this environment's events (default: every environment's)
        #[arg(long, value_parser = env_name)]
        env: Option<EnvName>,
        /// Only events whose kind starts with this (`command`, `step.failed`; repeatable)
        #[arg(long = "kind", value_name = "PREFIX")]
        kinds: Vec<String>,
        /// The signing secret, at least 16 characters (default: generated and printed once)
        #[arg(long, env = "HOIST_WEBHOOK_SECRET", hide_env_values = true)]
        secret: Option<String>,
    },
    /// List the webhooks (secrets as fingerprints)
    List,
    /// Remove a webhook and its deliveries
    Remove {
        /// The webhook's id, as `webhooks list` shows it
        id: i64,
    },
    /// Show deliveries, newest first: status, attempts, the last answer
    Deliveries {
        /// Only this webhook's
        #[arg(long = "hook", value_name = "ID")]
        hook_id: Option<i64>,
        /// Show the newest this many (0: all)
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: usize,
    },
    /// Send due deliveries now, in the foreground (`hoist serve` does this too)
    Deliver {
        /// One pass, then exit
        #[arg(long)]
        once: bool,
    },
}

fn webhook_url(text: &str) -> Result<WebhookUrl, String> {
    text.parse::<WebhookUrl>()
        .map_err(|e| format!("{e}\nhint: {}", e.hint()))
}

pub(crate) fn since(text: &str) -> Result<Since, String> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(Since::At(at));
    }
    parse_duration(text).map(Since::Ago).map_err(|_| {
        format!(
            "`{text}` is neither a time nor a duration\n\
             hint: give an RFC 3339 time like `2026-12-03T09:00:00Z`, or how long ago, like `1h` or `30m`"
        )
    })
}

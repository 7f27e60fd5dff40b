//! What the logs page and its live stream are asked (`env`, `host`, `lines`, `grep`),
//! checked as `hoist logs` checks its flags, and turned into the same op's options: the
//! page and the stream read through `ops::logs`, as the CLI does.

use hoist_core::log_line::{LogStream, format_time};
use hoist_core::{EnvName, HostAddress};
use serde::{Deserialize, Serialize};

use crate::hostside::service_log::reader::check_grep;
use crate::ops::Context;
use crate::ops::host_targets::host_targets;
use crate::ops::logs::{FleetLogLine, LogsOptions};
use crate::server::api_error::{ApiError, ApiResult};
use crate::server::dashboard::env_filter::env_param;
use crate::server::dashboard::page_error::{PageError, PageResult, urlencoding};

/// Lines shown when `lines=` does not say.
pub const DEFAULT_LINES: usize = 200;
/// The most lines a page shows.
pub const MAX_LINES: usize = 5000;

#[derive(Debug, Default, Deserialize)]
pub struct LogsQuery {
    #[serde(default)]
    pub env: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub lines: Option<String>,
    #[serde(default)]
    pub grep: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsRequest {
    pub env: EnvName,
    /// One host of the environment; `None`: all, merged by time.
    pub host: Option<HostAddress>,
    pub lines: usize,
    pub grep: Option<String>,
}

/// One log line as the page lists it and the stream sends it (the script's format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// The host's short name (`local`, `web1`).
    pub host: String,
    pub at: String,
    pub line: String,
}

impl LogLine {
    pub fn of(line: &FleetLogLine) -> Self {
        // hoist's own records (starts, stops) are marked as the CLI marks them.
        let marker = match line.stream {
            LogStream::Hoist => "==> ",
            _ => "",
        };
        Self {
            host: line.label.trim_end().to_owned(),
            at: format_time(line.at),
            line: format!("{marker}{}", line.text),
        }
    }
}

impl LogsRequest {
    /// The request `query` makes; `None` when it names no environment (the page offers a
    /// choice).
    pub fn parse(query: &LogsQuery) -> PageResult<Option<Self>> {
        let Some(env) = env_param(query.env.as_deref())? else {
            return Ok(None);
        };
        let host = match query.host.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(text.parse::<HostAddress>().map_err(|error| {
                PageError::bad_request(format!("`{text}` is not a host address: {error}"))
                    .hint(format!("the form on /logs?env={env} lists the hosts"))
            })?),
        };
        let lines = match query.lines.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_LINES,
            Some(text) => text
                .parse::<usize>()
                .ok()
                .filter(|count| (1..=MAX_LINES).contains(count))
                .ok_or_else(|| {
                    PageError::bad_request(format!(
                        "`lines` must be a whole number from 1 to {MAX_LINES}, not `{text}`"
                    ))
                    .hint(format!("leave it empty for the last {DEFAULT_LINES}"))
                })?,
        };
        let grep = match query.grep.as_deref() {
            None | Some("") => None,
            Some(pattern) => {
                check_grep(pattern).map_err(|error| {
                    let hint = error.hints.first().cloned().unwrap_or_default();
                    PageError::bad_request(format!("`grep`: {error}")).hint(hint)
                })?;
                Some(pattern.to_owned())
            }
        };
        Ok(Some(Self {
            env,
            host,
            lines,
            grep,
        }))
    }

    /// The op's options: the last `lines` lines (0: none, only new ones after).
    pub fn options(&self, lines: usize) -> LogsOptions {
        LogsOptions {
            env: self.env.clone(),
            since: None,
            grep: self.grep.clone(),
            lines: Some(lines),
        }
    }

    /// `ctx` narrowed to the asked host (as `--hosts` narrows the CLI's), refused when the
    /// environment has no such host.
    pub fn context<'a>(&self, ctx: &Context<'a>) -> ApiResult<Context<'a>> {
        let host_filter = match &self.host {
            None => Vec::new(),
            Some(host) => {
                let hosts = host_addresses(ctx, &self.env)?;
                if !hosts.contains(host) {
                    let known: Vec<String> = hosts.iter().map(|h| format!("`{h}`")).collect();
                    return Err(ApiError::bad_request(format!(
                        "`{host}` is not a host of `{}`",
                        self.env
                    ))
                    .hint(format!("its hosts are {}", known.join(", "))));
                }
                vec![host.clone()]
            }
        };
        Ok(Context {
            spec_dir: ctx.spec_dir.clone(),
            actor: ctx.actor.clone(),
            invocation: ctx.invocation.clone(),
            host_filter,
            claimed: ctx.claimed.clone(),
            ..*ctx
        })
    }

    /// `/live/logs?…`: the stream that continues this page.
    pub fn follow_url(&self) -> String {
        let mut url = format!("/live/logs?env={}", self.env);
        if let Some(host) = &self.host {
            url.push_str(&format!("&host={}", urlencoding(&host.to_string())));
        }
        if let Some(grep) = &self.grep {
            url.push_str(&format!("&grep={}", urlencoding(grep)));
        }
        url
    }
}

/// The hosts of `env` as the spec and the store name them (no host is asked).
pub fn host_addresses(ctx: &Context<'_>, env: &EnvName) -> crate::error::Result<Vec<HostAddress>> {
    let everywhere = Context {
        spec_dir: ctx.spec_dir.clone(),
        actor: ctx.actor.clone(),
        invocation: ctx.invocation.clone(),
        host_filter: Vec::new(),
        claimed: ctx.claimed.clone(),
        ..*ctx
    };
    Ok(host_targets(&everywhere, env)?
        .into_iter()
        .map(|target| target.address)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &str, grep: &str) -> PageResult<Option<LogsRequest>> {
        LogsRequest::parse(&LogsQuery {
            env: Some("dev".into()),
            lines: Some(lines.into()),
            grep: Some(grep.into()),
            ..LogsQuery::default()
        })
    }

    #[test]
    fn lines_and_grep_are_checked_as_the_cli_checks_them() {
        let request = parse("", "").unwrap().unwrap();
        assert_eq!((request.lines, request.grep), (DEFAULT_LINES, None));
        assert_eq!(parse("5000", "a+").unwrap().unwrap().lines, 5000);
        for bad in ["0", "5001", "-1", "ten", "1.5"] {
            assert!(parse(bad, "").is_err(), "{bad}");
        }
        assert!(parse("10", "(unclosed").is_err());
        assert_eq!(LogsRequest::parse(&LogsQuery::default()).unwrap(), None);
    }

    #[test]
    fn the_follow_url_keeps_the_host_and_the_filter() {
        let request = LogsRequest {
            env: "dev".parse().unwrap(),
            host: Some("local:/srv/app".parse().unwrap()),
            lines: 10,
            grep: Some("GET /a b".into()),
        };
        assert_eq!(
            request.follow_url(),
            "/live/logs?env=dev&host=local%3A/srv/app&grep=GET%20/a%20b"
        );
    }
}

//! `logs ENV`: the service logs of an environment's hosts as one timeline — each host's
//! lines (`Host::service_logs`, filtered there) merged by time, the last `lines` of them —
//! and, when following, every new line as the hosts are asked again. Read-only: no command,
//! no lock. A host that cannot be read is reported and the others are still shown.

use std::time::Duration;

use hoist_core::host_label::{aligned, short_labels};
use hoist_core::log_line::LogStream;
use hoist_core::log_merge::{keep_last, merge_by_time};
use hoist_core::{EnvName, HostAddress};
use jiff::Timestamp;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ops::context::Context;
use crate::ops::fleet;
use crate::ops::host_targets::host_targets;
use crate::ports::HostHandle;
use crate::ports::service_logs::{LogCursor, LogQuery, ServiceLogLine};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsOptions {
    pub env: EnvName,
    pub since: Option<Timestamp>,
    /// A regular expression the text must match (checked by the caller).
    pub grep: Option<String>,
    /// The last this many lines; `None`: all (since `since`).
    pub lines: Option<usize>,
}

/// How to follow: ask every `interval` until `stop` says so.
#[derive(Clone, Copy)]
pub struct Follow<'a> {
    pub interval: Duration,
    pub stop: &'a dyn Fn() -> bool,
}

impl std::fmt::Debug for Follow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follow")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// One line of the fleet's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetLogLine {
    #[serde(rename = "time")]
    pub at: Timestamp,
    /// The host's address, as the spec writes it.
    pub host: String,
    /// The host's short name for the `web1 | …` prefix, padded to the fleet's widest.
    #[serde(skip)]
    pub label: String,
    pub stream: LogStream,
    /// The log it came from: the release that wrote it.
    pub release: String,
    pub text: String,
}

/// What reading left unread.
#[derive(Debug, Default)]
pub struct LogsReport {
    /// Hosts that could not be read, with why (the first time, when following).
    pub failed: Vec<(String, Error)>,
}

struct Source {
    address: HostAddress,
    label: String,
    handle: Option<HostHandle>,
    cursor: Option<LogCursor>,
    /// The last failure, so a host that stays down is reported once.
    failing: bool,
}

/// Hands `on_line` the matching lines of every host (the last `lines` of the timeline),
/// then, with `follow`, each new line until `follow.stop` says so.
pub fn logs(
    ctx: &Context<'_>,
    options: &LogsOptions,
    follow: Option<Follow<'_>>,
    on_line: &mut dyn FnMut(&FleetLogLine) -> Result<()>,
) -> Result<LogsReport> {
    let targets = host_targets(ctx, &options.env)?;
    if targets.is_empty() {
        return Err(
            Error::failed(format!("environment `{}` has no hosts", options.env))
                .hint(format!("add `hosts = […]` to `[env.{}]`", options.env)),
        );
    }
    let addresses: Vec<HostAddress> = targets.iter().map(|t| t.address.clone()).collect();
    let labels = aligned(short_labels(&addresses));
    let connected = fleet::map_parallel(&targets, |target| ctx.hosts.connect(target));
    let mut report = LogsReport::default();
    let mut sources: Vec<Source> = Vec::with_capacity(targets.len());
    for ((address, label), handle) in addresses.into_iter().zip(labels).zip(connected) {
        let handle = match handle {
            Ok(handle) => Some(handle),
            Err(error) => {
                note_failure(ctx, &label, &error, &mut report);
                None
            }
        };
        sources.push(Source {
            failing: handle.is_none(),
            address,
            label,
            handle,
            cursor: None,
        });
    }
    let first = LogQuery {
        since: options.since,
        grep: options.grep.clone(),
        lines: options.lines,
        cursor: None,
        partial: follow.is_none(),
    };
    let lines = read_round(ctx, &mut sources, &first, true, &mut report);
    for line in keep_last(lines, options.lines) {
        on_line(&line)?;
    }
    if let Some(follow) = follow {
        let next = LogQuery {
            lines: None,
            partial: false,
            ..first
        };
        while !(follow.stop)() {
            std::thread::sleep(follow.interval);
            for line in read_round(ctx, &mut sources, &next, false, &mut report) {
                on_line(&line)?;
            }
        }
    }
    fleet::close_all(sources.into_iter().filter_map(|s| s.handle).collect());
    Ok(report)
}

/// Every host's lines after its cursor (all pages), merged by time; cursors move on.
/// `first`: the round before following, where a host without a cursor is read as `query`
/// says.
fn read_round(
    ctx: &Context<'_>,
    sources: &mut [Source],
    query: &LogQuery,
    first: bool,
    report: &mut LogsReport,
) -> Vec<FleetLogLine> {
    let read = fleet::map_parallel(sources, |source| {
        let handle = source.handle.as_ref()?;
        let query = match (&source.cursor, first) {
            (Some(cursor), _) => LogQuery {
                cursor: Some(cursor.clone()),
                ..query.clone()
            },
            (None, true) => query.clone(),
            // A host that could not be read at first, read while following: from now on.
            (None, false) => LogQuery {
                lines: Some(0),
                ..query.clone()
            },
        };
        Some(read_host(handle, query))
    });
    let mut per_host = Vec::with_capacity(sources.len());
    for (source, read) in sources.iter_mut().zip(read) {
        match read {
            Some(Ok((lines, cursor))) => {
                source.cursor = Some(cursor);
                source.failing = false;
                per_host.push(
                    lines
                        .into_iter()
                        .map(|line| fleet_line(source, line))
                        .collect(),
                );
            }
            Some(Err(error)) => {
                if !source.failing {
                    note_failure(ctx, &source.label, &error, report);
                }
                source.failing = true;
                per_host.push(Vec::new());
            }
            None => per_host.push(Vec::new()),
        }
    }
    merge_by_time(per_host, |line: &FleetLogLine| line.at)
}

/// All pages of one host's answer.
fn read_host(handle: &HostHandle, query: LogQuery) -> Result<(Vec<ServiceLogLine>, LogCursor)> {
    let mut query = query;
    let mut lines = Vec::new();
    loop {
        let page = handle.host.service_logs(&query)?;
        lines.extend(page.lines);
        if !page.more {
            return Ok((in_time_order(lines), page.cursor));
        }
        query.cursor = Some(page.cursor);
        query.lines = None;
    }
}

/// Pages come a log at a time: the lines of each log, merged by time.
fn in_time_order(lines: Vec<ServiceLogLine>) -> Vec<ServiceLogLine> {
    let mut logs: Vec<Vec<ServiceLogLine>> = Vec::new();
    for line in lines {
        match logs.iter_mut().find(|log| log[0].log == line.log) {
            Some(log) => log.push(line),
            None => logs.push(vec![line]),
        }
    }
    merge_by_time(logs, |line: &ServiceLogLine| line.at)
}

fn fleet_line(source: &Source, line: ServiceLogLine) -> FleetLogLine {
    FleetLogLine {
        at: line.at,
        host: source.address.to_string(),
        label: source.label.clone(),
        stream: line.stream,
        release: line.log,
        text: line.text,
    }
}

fn note_failure(ctx: &Context<'_>, label: &str, error: &Error, report: &mut LogsReport) {
    let label = label.trim_end();
    ctx.progress
        .note(&format!("{label}: cannot read the logs: {error}"));
    report.failed.push((label.to_owned(), error.clone()));
}

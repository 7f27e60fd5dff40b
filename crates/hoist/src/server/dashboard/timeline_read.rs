//! The timeline page's read: a page of events newest first, before an id, of one kind or
//! kind prefix, across the environments a token covers. The store filters by environment
//! and id; the kind is checked here, reading back in batches, at most `MAX_SCAN` events per
//! environment a request (the "older" link continues where the reading stopped).

use std::cmp::Reverse;

use hoist_core::EnvName;

use crate::error::Result;
use crate::ops::Context;
use crate::ports::store::{Event, EventFilter};
use crate::server::dashboard::page_error::{PageError, PageResult};

/// Events read from the store at a time when a kind narrows them.
const BATCH: usize = 500;
/// Events read per environment and request at most, however few match.
const MAX_SCAN: usize = 20_000;

/// Which kinds `kind=` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindFilter {
    Any,
    Exact(String),
    /// `command.` (or `command.*`): every kind that starts so.
    Prefix(String),
}

impl KindFilter {
    pub fn parse(text: &str) -> PageResult<Self> {
        let text = text.trim();
        if text.len() > 100 || text.chars().any(char::is_control) {
            return Err(
                PageError::bad_request("`kind` is not an event kind or a kind prefix")
                    .hint("e.g. `command.succeeded`, or `command.` for every command event"),
            );
        }
        Ok(match text {
            "" => Self::Any,
            _ => match text.strip_suffix('*') {
                Some(prefix) => Self::Prefix(prefix.to_owned()),
                None if text.ends_with('.') => Self::Prefix(text.to_owned()),
                None => Self::Exact(text.to_owned()),
            },
        })
    }

    /// As the form shows it.
    pub fn text(&self) -> &str {
        match self {
            Self::Any => "",
            Self::Exact(text) | Self::Prefix(text) => text,
        }
    }

    pub fn matches(&self, kind: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(exact) => kind == exact,
            Self::Prefix(prefix) => kind.starts_with(prefix.as_str()),
        }
    }
}

/// One page of the timeline.
#[derive(Debug, Default, PartialEq)]
pub struct TimelineRead {
    /// Newest first.
    pub events: Vec<Event>,
    /// `before=` for the next page back, when there may be one.
    pub older: Option<i64>,
}

/// What was read of one environment (or of all, for an unlimited token).
#[derive(Debug)]
struct ScopeRead {
    matching: Vec<Event>,
    /// Every event with an id at or above this was read (0: all of them were).
    low: i64,
}

/// Up to `page` events of `scopes` matching `kind`, before `before`, newest first.
pub fn read_page(
    ctx: &Context<'_>,
    scopes: &[Option<EnvName>],
    before: Option<i64>,
    kind: &KindFilter,
    page: usize,
) -> Result<TimelineRead> {
    let reads = scopes
        .iter()
        .map(|env| read_scope(ctx, env, before, kind, page))
        .collect::<Result<Vec<_>>>()?;
    Ok(merge(reads, page))
}

fn read_scope(
    ctx: &Context<'_>,
    env: &Option<EnvName>,
    before: Option<i64>,
    kind: &KindFilter,
    page: usize,
) -> Result<ScopeRead> {
    let batch = match kind {
        KindFilter::Any => page + 1,
        _ => BATCH,
    };
    let mut cursor = before;
    let mut matching = Vec::new();
    let mut scanned = 0;
    loop {
        // Oldest first: the newest `batch` before the cursor.
        let events = ctx.store.events(&EventFilter {
            env: env.clone(),
            before_id: cursor,
            limit: batch,
            newest: true,
            ..EventFilter::default()
        })?;
        let Some(oldest) = events.first().map(|event| event.id) else {
            return Ok(ScopeRead { matching, low: 0 });
        };
        let exhausted = events.len() < batch;
        scanned += events.len();
        matching.extend(
            events
                .into_iter()
                .filter(|event| kind.matches(&event.event.kind)),
        );
        if exhausted {
            return Ok(ScopeRead { matching, low: 0 });
        }
        if matching.len() > page || scanned >= MAX_SCAN {
            return Ok(ScopeRead {
                matching,
                low: oldest,
            });
        }
        cursor = Some(oldest);
    }
}

/// The newest `page` of what every scope read, shown only as far back as every scope was
/// read completely, so that the next page misses nothing.
fn merge(reads: Vec<ScopeRead>, page: usize) -> TimelineRead {
    let floor = reads.iter().map(|read| read.low).max().unwrap_or(0);
    let mut events: Vec<Event> = reads
        .into_iter()
        .flat_map(|read| read.matching)
        .filter(|event| event.id >= floor)
        .collect();
    events.sort_by_key(|event| Reverse(event.id));
    let older = if events.len() > page {
        events.truncate(page);
        events.last().map(|event| event.id)
    } else {
        (floor > 0).then_some(floor)
    };
    TimelineRead { events, older }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::store::NewEvent;

    fn event(id: i64, kind: &str) -> Event {
        Event {
            id,
            event: NewEvent {
                at: jiff::Timestamp::UNIX_EPOCH,
                env: None,
                command_id: None,
                kind: kind.to_owned(),
                message: String::new(),
                actor: String::new(),
            },
        }
    }

    fn ids(read: &TimelineRead) -> Vec<i64> {
        read.events.iter().map(|event| event.id).collect()
    }

    #[test]
    fn a_kind_is_exact_or_a_prefix() {
        let prefix = KindFilter::parse(" command. ").unwrap();
        assert!(prefix.matches("command.started") && !prefix.matches("step.started"));
        assert_eq!(KindFilter::parse("command.*").unwrap(), prefix);
        let exact = KindFilter::parse("command.started").unwrap();
        assert!(exact.matches("command.started") && !exact.matches("command.started.x"));
        assert_eq!(KindFilter::parse("").unwrap(), KindFilter::Any);
        assert!(KindFilter::parse("a\nb").is_err());
    }

    #[test]
    fn scopes_merge_newest_first_and_page_on_from_the_last_shown() {
        let reads = vec![
            ScopeRead {
                matching: vec![event(1, "a"), event(4, "a")],
                low: 0,
            },
            ScopeRead {
                matching: vec![event(2, "a"), event(3, "a"), event(5, "a")],
                low: 0,
            },
        ];
        let read = merge(reads, 3);
        assert_eq!(ids(&read), [5, 4, 3]);
        assert_eq!(read.older, Some(3));
    }

    #[test]
    fn a_scope_read_only_in_part_bounds_what_is_shown() {
        // The second scope was read down to id 40 only: older events of the first could be
        // shown before newer ones of the second, so the page stops at 40.
        let reads = vec![
            ScopeRead {
                matching: vec![event(10, "a"), event(45, "a")],
                low: 0,
            },
            ScopeRead {
                matching: vec![event(50, "a")],
                low: 40,
            },
        ];
        let read = merge(reads, 10);
        assert_eq!(ids(&read), [50, 45]);
        assert_eq!(read.older, Some(40));
        let all_read = merge(
            vec![ScopeRead {
                matching: vec![event(10, "a")],
                low: 0,
            }],
            10,
        );
        assert_eq!(all_read.older, None);
    }
}

//! One reconcile of a running environment, as `hoist serve` does every `--reconcile-every`:
//! read what every host runs (`check`, which also moves each host's journal into the
//! timeline), record drift as an event when it appears or changes (`drift.detected`) and when
//! it goes away (`drift.cleared`), and — only when asked (`--repair`) — repair it as
//! `check --fix` does, as a recorded `repair` command.

use hoist_core::EnvName;

use crate::error::Result;
use crate::ops::check::{CheckOptions, check};
use crate::ops::context::Context;
use crate::ports::store::NewEvent;

/// An event message keeps at most this many problems; the count says how many there were.
const PROBLEMS_IN_MESSAGE: usize = 5;

#[derive(Debug, Clone)]
pub struct ReconcileOptions {
    pub env: EnvName,
    /// Repair drift (`check --fix`) instead of only recording it.
    pub repair: bool,
}

/// What a reconcile found (`host: problem`, in host order) and what it repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub problems: Vec<String>,
    pub repaired: Vec<String>,
    /// Hosts that could not be reached (no repair is tried while any is).
    pub unreachable: Vec<String>,
}

/// Reconciles `options.env`; `last` is what the previous reconcile found, so an unchanged
/// drift is not recorded again every tick.
pub fn reconcile(
    ctx: &Context<'_>,
    options: &ReconcileOptions,
    last: &[String],
) -> Result<Reconciled> {
    let read = check(
        ctx,
        &CheckOptions {
            env: options.env.clone(),
            fix: false,
        },
    )?;
    let problems: Vec<String> = read
        .hosts
        .iter()
        .flat_map(|host| {
            host.problems
                .iter()
                .map(move |problem| format!("{}: {problem}", host.address))
        })
        .collect();
    if problems != last {
        let (kind, message) = match problems.is_empty() {
            true => (
                "drift.cleared",
                "what runs matches what is recorded again".to_owned(),
            ),
            false => ("drift.detected", summary(&problems)),
        };
        ctx.store.append_event(&NewEvent {
            at: ctx.clock.now(),
            env: Some(options.env.clone()),
            command_id: None,
            kind: kind.to_owned(),
            message,
            actor: ctx.actor.name.clone(),
        })?;
    }
    let mut reconciled = Reconciled {
        problems,
        repaired: Vec::new(),
        unreachable: read
            .hosts
            .iter()
            .filter(|host| !host.reachable)
            .map(|host| host.address.clone())
            .collect(),
    };
    // A repair takes every host under its lock: with one unreachable it could not start, and
    // would leave a failed `repair` command per tick. The drift is recorded; nothing changes.
    if options.repair && !reconciled.problems.is_empty() && reconciled.unreachable.is_empty() {
        let repaired = check(
            ctx,
            &CheckOptions {
                env: options.env.clone(),
                fix: true,
            },
        )?;
        reconciled.repaired = repaired.fixed;
    }
    Ok(reconciled)
}

fn summary(problems: &[String]) -> String {
    let shown: Vec<&str> = problems
        .iter()
        .take(PROBLEMS_IN_MESSAGE)
        .map(String::as_str)
        .collect();
    let more = problems.len().saturating_sub(PROBLEMS_IN_MESSAGE);
    let tail = match more {
        0 => String::new(),
        more => format!("; and {more} more"),
    };
    format!("{} problem(s): {}{tail}", problems.len(), shown.join("; "))
}

//! `hoist host --root R boot`: what the boot entry runs when the host starts. It starts the
//! built-in proxy again (if the root had one, with its persisted routes) and the supervisor,
//! which starts every supervised instance whose process is gone — on the very port its route
//! names. Idempotent: run on a live host it changes nothing.

use std::path::Path;

use crate::error::Result;
use crate::hostside::proxy_process::ProxyProcess;
use crate::hostside::supervisor::{Journal, SupervisorProcess, event};
use crate::ports::router::ProxyStart;
use crate::ports::supervisor::SupervisorStart;

/// Brings the root up; returns what it did, one line each. A failure is also written to the
/// root's journal as `boot.failed`: the boot entry's own output goes nowhere (cron), and the
/// journal is what `hoist status` and the timeline show.
pub fn boot(root: &Path) -> Result<Vec<String>> {
    if !root.join(".hoist").is_dir() {
        return Ok(vec![format!(
            "`{}` is not a deploy root (any more); nothing to start",
            root.display()
        )]);
    }
    start(root).inspect_err(|error| {
        let mut message = error.to_string();
        for hint in &error.hints {
            message.push_str(&format!(" (hint: {hint})"));
        }
        // Best effort: the error itself is what the caller gets.
        let _ = Journal::new(root).append(event("boot.failed", message));
    })
}

fn start(root: &Path) -> Result<Vec<String>> {
    let mut done = Vec::new();
    match ProxyProcess::new(root).restore()? {
        Some(ProxyStart::Started | ProxyStart::Restarted) => {
            done.push("started the proxy with its routes".to_owned());
        }
        Some(ProxyStart::Running | ProxyStart::External) | None => {}
    }
    match SupervisorProcess::new(root).ensure()? {
        SupervisorStart::Started | SupervisorStart::Restarted => {
            done.push("started the supervisor".to_owned());
        }
        SupervisorStart::Running => {}
    }
    let summary = match done.is_empty() {
        true => "boot: everything was running".to_owned(),
        false => format!("boot: {}", done.join(", ")),
    };
    Journal::new(root).append(event("boot", summary))?;
    Ok(done)
}

//! What a step did on each host, as step-log entries: one per host, in words (never Rust
//! debug text), so a command's record says what happened where.

use crate::error::Result;
use crate::ops::command_run::CommandRun;
use crate::ops::fleet;
use crate::ports::store::StepLogEntry;

/// What a host step did, in words for the step log (never Rust debug text).
pub(crate) trait HostStepDetail {
    fn detail(&self) -> String;
}

impl HostStepDetail for () {
    fn detail(&self) -> String {
        "done".to_owned()
    }
}

impl HostStepDetail for Vec<String> {
    fn detail(&self) -> String {
        match self.is_empty() {
            true => "nothing to do".to_owned(),
            false => self.join("; "),
        }
    }
}

impl HostStepDetail for crate::ports::host::UploadReport {
    fn detail(&self) -> String {
        format!(
            "{} files: {} linked, {} written ({} bytes)",
            self.files, self.linked, self.written, self.bytes_written
        )
    }
}

/// One step-log entry per host, so a command's record says what happened where.
pub(crate) fn record_host_results<T: HostStepDetail>(
    run: &CommandRun<'_>,
    step: &str,
    outcome: &fleet::FleetOutcome<T>,
) -> Result<()> {
    let now = run.ctx.clock.now();
    for (handle, result) in run.hosts.iter().zip(&outcome.results) {
        let (ok, detail) = match result {
            Some(Ok(value)) => (true, value.detail()),
            Some(Err(error)) => (false, error.to_string()),
            None => (
                false,
                "not reached: the rollout halted before this host".to_owned(),
            ),
        };
        let entry = StepLogEntry {
            step: format!("{step} @ {}", handle.host.address()),
            ok,
            started_at: now,
            elapsed_ms: 0,
            detail: Some(detail),
        };
        run.ctx.store.append_command_step(run.command.id, &entry)?;
    }
    Ok(())
}

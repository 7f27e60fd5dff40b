//! Hooks on a host (`stop`, `start`, `refresh`, `post_upload`): how they run, and the
//! variables each kind gets.

use hoist_core::ReleaseId;

use crate::error::{Error, Result};
use crate::ops::command_run::CommandRun;
use crate::ports::HostHandle;
use crate::ports::host::ExecDir;

pub(crate) fn run_hooks(
    handle: &HostHandle,
    commands: &[String],
    dir: &ExecDir,
    env: &[(String, String)],
    kind: &str,
) -> Result<()> {
    for command in commands {
        let output = handle.host.exec(dir, command, env)?;
        if output.status != 0 {
            return Err(Error::failed(format!(
                "{kind} hook `{command}` exited with status {} on `{}`",
                output.status,
                handle.host.address()
            ))
            .cause(tail(&output.output, 20)));
        }
    }
    Ok(())
}

/// The variables every hook gets: the release it runs in and the environment.
pub(crate) fn hook_env(run: &CommandRun<'_>, release: &ReleaseId) -> Vec<(String, String)> {
    vec![
        ("HOIST_RELEASE".to_owned(), release.to_string()),
        ("HOIST_ENV".to_owned(), run.env_name.to_string()),
    ]
}

/// `stop` hooks, under every strategy: `HOIST_RELEASE` is the release being stopped (the one
/// the hook runs in), `HOIST_NEXT_RELEASE` the one taking over.
pub(crate) fn stop_hook_env(
    run: &CommandRun<'_>,
    outgoing: &ReleaseId,
    incoming: &ReleaseId,
) -> Vec<(String, String)> {
    let mut env = hook_env(run, outgoing);
    env.push(("HOIST_NEXT_RELEASE".to_owned(), incoming.to_string()));
    env
}

/// `start` and `refresh` hooks: `HOIST_RELEASE` is the new live release,
/// `HOIST_PREVIOUS_RELEASE` the one before it, if any.
pub(crate) fn start_hook_env(
    run: &CommandRun<'_>,
    incoming: &ReleaseId,
    previous: Option<&ReleaseId>,
) -> Vec<(String, String)> {
    let mut env = hook_env(run, incoming);
    if let Some(previous) = previous.filter(|previous| *previous != incoming) {
        env.push(("HOIST_PREVIOUS_RELEASE".to_owned(), previous.to_string()));
    }
    env
}

/// The last `lines` lines of a command's output, for error causes.
pub fn tail(output: &str, lines: usize) -> String {
    let all: Vec<&str> = output.trim_end().lines().collect();
    let start = all.len().saturating_sub(lines);
    let text = all[start..].join("\n");
    if text.is_empty() {
        "(no output)".to_owned()
    } else {
        format!("output:\n{text}")
    }
}

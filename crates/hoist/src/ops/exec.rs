//! `exec ENV -- COMMAND…`: a one-off command in the live release of every host of the
//! environment (or `--hosts`), `parallel` at a time, with the environment an instance gets.
//! Its output goes to the caller line by line as it comes, and is never stored: the step log
//! keeps each host's exit status. A recorded command under the environment's lease and
//! host locks, like every change. Its exit code is the worst: the highest status of any
//! host, a host where it could not run counting as 1.

use hoist_core::host_label::{aligned, short_labels};
use hoist_core::{Action, EnvName};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ops::command_run::CommandRun;
use crate::ops::context::Context;
use crate::ops::continuation::Continuation;
use crate::ops::fleet;
use crate::ports::service_logs::ExecStream;
use crate::ports::store::StepLogEntry;

/// The exit code a host counts for when the command could not run there.
const COULD_NOT_RUN: i32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOptions {
    pub env: EnvName,
    /// The program and its arguments (no shell: give `sh -c '…'` for one).
    pub command: Vec<String>,
}

/// One line of output of one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecLine {
    pub host: String,
    /// The host's short name for the `web1 | …` prefix, padded to the fleet's widest.
    #[serde(skip)]
    pub label: String,
    pub stream: ExecStream,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecOutcome {
    pub command_id: i64,
    pub hosts: Vec<HostExit>,
    /// The highest exit status of any host (0 when every host's was 0).
    pub exit_code: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostExit {
    pub host: String,
    /// Its exit status (128 + N when killed by signal N); `None` when it could not run.
    pub status: Option<i32>,
    pub error: Option<String>,
}

/// Runs the command on every host and hands each line of output to `on_line`.
pub fn exec(
    ctx: &Context<'_>,
    options: &ExecOptions,
    on_line: &(dyn Fn(&ExecLine) + Sync),
) -> Result<ExecOutcome> {
    ctx.env_spec(&options.env)?;
    if options.command.is_empty() {
        return Err(Error::failed("no command to run").hint(format!(
            "give it after `--`, e.g. `hoist exec {} -- ls -la`",
            options.env
        )));
    }
    let args = serde_json::json!({ "command": options.command });
    let mut run = CommandRun::begin(ctx, Action::Exec, &options.env, args)?;
    run.continue_with(Some(Continuation::exec(&options.env, &options.command)));
    let ran = run
        .connect_hosts()
        .and_then(|()| run.step("exec", None, |run| run_everywhere(run, options, on_line)));
    let command_id = run.command.id;
    let hosts = ran.clone().unwrap_or_default();
    let exit_code = hosts
        .iter()
        .map(|host| host.status.unwrap_or(COULD_NOT_RUN))
        .max()
        .unwrap_or(0);
    // Recorded as failed when a host did not exit 0; that is the command's own outcome,
    // which the exit code tells, not an error of hoist's.
    let verdict = failure(&options.command, &hosts);
    let verdict_message = verdict.as_ref().map(|error| error.message.clone());
    match run.finish(ran.and_then(|_| verdict.map_or(Ok(()), Err))) {
        Err(error) if Some(&error.message) != verdict_message.as_ref() => return Err(error),
        _ => {}
    }
    Ok(ExecOutcome {
        command_id,
        hosts,
        exit_code,
    })
}

fn run_everywhere(
    run: &mut CommandRun<'_>,
    options: &ExecOptions,
    on_line: &(dyn Fn(&ExecLine) + Sync),
) -> Result<Vec<HostExit>> {
    let addresses: Vec<_> = run.hosts.iter().map(|h| h.host.address().clone()).collect();
    let labels = aligned(short_labels(&addresses));
    let parallel = run.parallel()?;
    let ran = fleet::across(&run.hosts, parallel, |index, handle| {
        let (host, label) = (addresses[index].to_string(), labels[index].clone());
        let mut lines = LineSplitter::default();
        let emit = |stream: ExecStream, text: String| {
            on_line(&ExecLine {
                host: host.clone(),
                label: label.clone(),
                stream,
                text,
            });
        };
        let status = handle
            .host
            .exec_live(&options.env, &options.command, &mut |stream, bytes| {
                for text in lines.push(stream, bytes) {
                    emit(stream, text);
                }
            });
        for (stream, text) in lines.finish() {
            emit(stream, text);
        }
        status
    });
    let now = run.ctx.clock.now();
    let mut hosts = Vec::with_capacity(addresses.len());
    for (address, result) in addresses.iter().zip(ran.results) {
        let exit = match result {
            Some(Ok(status)) => HostExit {
                host: address.to_string(),
                status: Some(status),
                error: None,
            },
            Some(Err(error)) => HostExit {
                host: address.to_string(),
                status: None,
                error: Some(error.to_string()),
            },
            None => HostExit {
                host: address.to_string(),
                status: None,
                error: Some("not reached".to_owned()),
            },
        };
        // The exit status only: the output may hold anything, secrets too.
        let detail = match (&exit.status, &exit.error) {
            (Some(status), _) => format!("exit status {status}"),
            (None, Some(error)) => format!("could not run: {error}"),
            (None, None) => String::new(),
        };
        run.ctx.store.append_command_step(
            run.command.id,
            &StepLogEntry {
                step: format!("exec @ {address}"),
                ok: exit.status == Some(0),
                started_at: now,
                elapsed_ms: 0,
                detail: Some(detail),
            },
        )?;
        hosts.push(exit);
    }
    Ok(hosts)
}

/// The error the command is recorded as failed with, when a host did not exit 0.
fn failure(command: &[String], hosts: &[HostExit]) -> Option<Error> {
    let failed: Vec<String> = hosts
        .iter()
        .filter(|host| host.status != Some(0))
        .map(|host| match host.status {
            Some(status) => format!("{} (exit status {status})", host.host),
            None => format!("{} (could not run)", host.host),
        })
        .collect();
    if failed.is_empty() {
        return None;
    }
    let program = command.first().map_or("", String::as_str);
    Some(Error::failed(format!(
        "`{program}` failed on {}",
        failed.join(", ")
    )))
}

/// Cuts a command's output into lines per stream; what is left at the end is a last line.
#[derive(Debug, Default)]
struct LineSplitter {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl LineSplitter {
    fn buffer(&mut self, stream: ExecStream) -> &mut Vec<u8> {
        match stream {
            ExecStream::Stdout => &mut self.stdout,
            ExecStream::Stderr => &mut self.stderr,
        }
    }

    /// The lines `bytes` completes.
    fn push(&mut self, stream: ExecStream, bytes: &[u8]) -> Vec<String> {
        let buffer = self.buffer(stream);
        buffer.extend_from_slice(bytes);
        let Some(last) = buffer.iter().rposition(|byte| *byte == b'\n') else {
            return Vec::new();
        };
        let rest = buffer.split_off(last + 1);
        let complete = std::mem::replace(buffer, rest);
        complete[..last]
            .split(|byte| *byte == b'\n')
            .map(|line| String::from_utf8_lossy(line).into_owned())
            .collect()
    }

    fn finish(&mut self) -> Vec<(ExecStream, String)> {
        [ExecStream::Stdout, ExecStream::Stderr]
            .into_iter()
            .filter_map(|stream| {
                let rest = std::mem::take(self.buffer(stream));
                (!rest.is_empty()).then(|| (stream, String::from_utf8_lossy(&rest).into_owned()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_cut_into_lines_per_stream() {
        let mut lines = LineSplitter::default();
        assert!(lines.push(ExecStream::Stdout, b"hel").is_empty());
        assert_eq!(
            lines.push(ExecStream::Stderr, b"oops\nwar"),
            vec!["oops".to_owned()]
        );
        assert_eq!(
            lines.push(ExecStream::Stdout, b"lo\n\nworld\nbye"),
            vec!["hello".to_owned(), String::new(), "world".to_owned()]
        );
        assert_eq!(
            lines.finish(),
            vec![
                (ExecStream::Stdout, "bye".to_owned()),
                (ExecStream::Stderr, "war".to_owned())
            ]
        );
        assert!(lines.finish().is_empty());
    }

    #[test]
    fn the_failure_names_every_host_that_did_not_exit_zero() {
        let exit = |host: &str, status: Option<i32>| HostExit {
            host: host.to_owned(),
            status,
            error: None,
        };
        let command = ["sh".to_owned(), "-c".to_owned(), "exit 3".to_owned()];
        assert!(failure(&command, &[exit("web1", Some(0))]).is_none());
        let error = failure(
            &command,
            &[
                exit("web1", Some(0)),
                exit("web2", Some(3)),
                exit("web3", None),
            ],
        )
        .unwrap();
        assert_eq!(
            error.message,
            "`sh` failed on web2 (exit status 3), web3 (could not run)"
        );
    }
}

//! Bring-your-own infrastructure: `[env.NAME.provision] command` runs locally (an OpenTofu
//! apply, a cloud CLI) and prints JSON listing hosts, which are registered for the
//! environment. Accepted shapes: `["web1", …]`, `{"hosts": [...]}`, and OpenTofu/Terraform's
//! `{"hosts": {"value": [...]}}`; an entry is a host string or `{"host": "…", "jump": "…"}`.
//! The command sees only the basics of hoist's environment, `HOIST_ENV` and the variables
//! its `pass_env` names (cloud credentials, for instance).

use hoist_core::{HostAddress, SshDestination};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::hostside::exec;
use crate::ops::command_run::CommandRun;
use crate::ops::register::register_one;
use crate::ops::run::hooks::tail;

/// Runs the environment's provision command, if it has one, and registers the hosts it
/// lists; returns how many.
pub(crate) fn run_provision_command(run: &CommandRun<'_>) -> Result<usize> {
    let ctx = run.ctx;
    let env_spec = ctx.env_spec(&run.env_name)?;
    let Some(command) = &env_spec.provision_command else {
        return Ok(0);
    };
    ctx.progress.note(&format!("provision command: {command}"));
    let env = [("HOIST_ENV".to_owned(), run.env_name.to_string())];
    let output =
        exec::run_controller_shell(&ctx.spec_dir, command, &env, &env_spec.provision_pass_env)?;
    if output.status != 0 {
        return Err(Error::failed(format!(
            "the provision command exited with status {}",
            output.status
        ))
        .cause(tail(&output.output, 20))
        .hint("run it by hand in the spec's directory to see why")
        .hint("it sees only PATH, HOME, USER, LOGNAME, LANG, LC_*, TERM, TZ, TMPDIR, SHELL and HOIST_ENV of your environment; list any other variable it needs (cloud credentials) in `[env.NAME.provision] pass_env`"));
    }
    let hosts = parse_hosts(&output.output).map_err(|error| {
        error
            .context("the provision command's output is not a host list")
            .hint("print JSON: [\"deploy@web1\", …] or {\"hosts\": [...]} (OpenTofu: `tofu output -json`)")
    })?;
    for (address, jump) in &hosts {
        register_one(run, address, jump.clone(), "provision")?;
    }
    Ok(hosts.len())
}

/// The hosts in a provision command's JSON output (the last JSON value it printed).
pub fn parse_hosts(output: &str) -> Result<Vec<(HostAddress, Option<SshDestination>)>> {
    let start = output
        .find(['[', '{'])
        .ok_or_else(|| Error::failed("no JSON in the output"))?;
    let value: Value = serde_json::from_str(output[start..].trim())
        .map_err(|e| Error::failed("invalid JSON").cause(e))?;
    let list = match &value {
        Value::Array(list) => list,
        Value::Object(map) => match map.get("hosts") {
            Some(Value::Array(list)) => list,
            Some(Value::Object(wrapped)) => match wrapped.get("value") {
                Some(Value::Array(list)) => list,
                _ => return Err(Error::failed("`hosts.value` is not a list")),
            },
            _ => return Err(Error::failed("no `hosts` list")),
        },
        _ => return Err(Error::failed("expected a list or an object with `hosts`")),
    };
    list.iter()
        .map(|entry| {
            let (host, jump) = match entry {
                Value::String(host) => (host.as_str(), None),
                Value::Object(map) => (
                    map.get("host")
                        .and_then(Value::as_str)
                        .ok_or_else(|| Error::failed("an entry has no `host`"))?,
                    map.get("jump").and_then(Value::as_str),
                ),
                _ => return Err(Error::failed(format!("unexpected entry `{entry}`"))),
            };
            let address = host.parse::<HostAddress>()?;
            let jump = jump.map(str::parse::<SshDestination>).transpose()?;
            Ok((address, jump))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_accepted_shape() {
        for output in [
            r#"["deploy@web1", "web2:2222"]"#,
            r#"{"hosts": ["deploy@web1", "web2:2222"]}"#,
            "Apply complete!\n{\"hosts\": {\"sensitive\": false, \"value\": [\"deploy@web1\", {\"host\": \"web2:2222\", \"jump\": \"bastion\"}]}}",
        ] {
            let hosts = parse_hosts(output).unwrap();
            assert_eq!(hosts.len(), 2, "{output}");
            assert_eq!(hosts[0].0.to_string(), "deploy@web1");
            assert_eq!(hosts[1].0.to_string(), "web2:2222");
        }
    }

    #[test]
    fn refuses_hostile_or_malformed_output() {
        for output in [
            "",
            "no json here",
            "[\"-oProxyCommand=x\"]",
            "{\"hosts\": 3}",
            "[1]",
            "[{\"jump\": \"b\"}]",
        ] {
            assert!(parse_hosts(output).is_err(), "{output:?}");
        }
    }
}

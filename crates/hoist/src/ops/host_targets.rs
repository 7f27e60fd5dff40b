//! Which hosts an environment has and how to reach each: the spec's `hosts` and the
//! registered ones (with the environment's `root`, `jump`, `ssh_config`, `identity`,
//! `host_binary`), optionally cut down to `--hosts`.

use std::path::{Path, PathBuf};

use hoist_core::spec::{EnvSpec, HostSpec};
use hoist_core::{EnvName, HostAddress};

use crate::error::{Error, Result};
use crate::ops::context::Context;
use crate::ports::HostTarget;

/// The hosts of `env` a command acts on: the spec's, then the registered ones (by
/// `hoist register` or the provision command), cut down to `--hosts` when given.
pub fn host_targets(ctx: &Context<'_>, env: &EnvName) -> Result<Vec<HostTarget>> {
    let env_spec = ctx.env_spec(env)?;
    let mut hosts: Vec<HostSpec> = env_spec.hosts.clone();
    for registered in ctx.store.registered_hosts(env)? {
        if !hosts.iter().any(|h| h.address == registered.address) {
            hosts.push(HostSpec {
                address: registered.address,
                jump: registered.jump,
            });
        }
    }
    if !ctx.host_filter.is_empty() {
        let unknown = ctx
            .host_filter
            .iter()
            .find(|wanted| !hosts.iter().any(|h| &h.address == *wanted));
        if let Some(unknown) = unknown {
            let known: Vec<String> = hosts.iter().map(|h| format!("`{}`", h.address)).collect();
            return Err(Error::failed(format!(
                "`--hosts` names `{unknown}`, which is not a host of `{env}`"
            ))
            .hint(format!("its hosts are {}", known.join(", "))));
        }
        hosts.retain(|h| ctx.host_filter.contains(&h.address));
    }
    hosts
        .iter()
        .map(|host| target(&ctx.spec_dir, env, env_spec, host))
        .collect()
}

fn target(
    spec_dir: &Path,
    env: &EnvName,
    env_spec: &EnvSpec,
    host: &HostSpec,
) -> Result<HostTarget> {
    let root = match &host.address {
        HostAddress::Local { root } => root.clone(),
        HostAddress::Ssh(_) => env_spec.root.clone().ok_or_else(|| {
            Error::failed(format!("environment `{env}` has SSH hosts but no `root`")).hint(format!(
                "add `root = \"/srv/app\"` to `[env.{env}]`: the deploy root on its hosts"
            ))
        })?,
    };
    let ssh = &env_spec.ssh;
    Ok(HostTarget {
        address: host.address.clone(),
        root,
        jump: host.jump.clone().or_else(|| ssh.jump.clone()),
        ssh_config: ssh.config.as_deref().map(|p| resolve(spec_dir, p)),
        identity: ssh.identity.as_deref().map(|p| resolve(spec_dir, p)),
        host_binary: ssh.host_binary.as_deref().map(|p| resolve(spec_dir, p)),
        connect_timeout: ssh.connect_timeout,
        ssh_persist: ssh.persist,
    })
}

/// A spec path made absolute: `~/x` from the home directory, relative ones from the spec's.
fn resolve(spec_dir: &Path, path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    spec_dir.join(path)
}

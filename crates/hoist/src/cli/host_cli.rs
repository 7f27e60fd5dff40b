//! The command line of `hoist-host`: only what hosts run — `host --root R …` and `proxy …`,
//! with the same arguments as in `hoist` — and `--build-id`, which a controller compares with
//! its own before it installs this binary on hosts.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cli::args::{HostArgs, ProxyArgs};
use crate::cli::commands::{host, proxy};
use crate::cli::printer::report_error;

/// The flag that prints the build's fingerprint (`crate::BUILD_ID`).
pub const BUILD_ID_FLAG: &str = "--build-id";

#[derive(Debug, Parser)]
#[command(
    name = "hoist",
    version,
    about = "The host side of hoist, run on a host by its controller"
)]
struct HostCli {
    #[command(subcommand)]
    command: HostOnlyCommand,
}

#[derive(Debug, Subcommand)]
enum HostOnlyCommand {
    /// Host-side operations, run on a host by its controller
    Host(HostArgs),
    /// Run the built-in reverse proxy until SIGTERM
    Proxy(ProxyArgs),
}

pub fn main() -> ExitCode {
    if let Some(code) = host::long_running() {
        return code;
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.len() == 1 && args[0] == BUILD_ID_FLAG {
        return print_build_id();
    }
    let cli = match crate::cli::parse_args::<HostCli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match &cli.command {
        HostOnlyCommand::Host(args) => host::exec(args),
        HostOnlyCommand::Proxy(args) => proxy::exec(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            report_error(&error, false);
            ExitCode::from(error.kind.exit_code())
        }
    }
}

#[expect(clippy::print_stdout, reason = "the build id is this command's output")]
fn print_build_id() -> ExitCode {
    println!("{}", crate::BUILD_ID);
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_host_commands_parse_as_in_hoist() {
        HostCli::command().debug_assert();
        let cli = HostCli::try_parse_from(["hoist", "host", "--root", "/srv/a", "serve"]).unwrap();
        assert!(matches!(cli.command, HostOnlyCommand::Host(_)));
        let cli = HostCli::try_parse_from([
            "hoist",
            "proxy",
            "--listen",
            "127.0.0.1:8080",
            "--state-dir",
            "/srv/a/run/proxy",
        ])
        .unwrap();
        assert!(matches!(cli.command, HostOnlyCommand::Proxy(_)));
        assert!(HostCli::try_parse_from(["hoist", "deploy", "dev"]).is_err());
    }
}

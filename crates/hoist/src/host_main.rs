//! The `hoist-host` binary: the host side of hoist alone — what a controller installs on a
//! host as `.hoist/bin/hoist`. The controller's commands are not linked in, so it is a
//! fraction of `hoist`'s size.

fn main() -> std::process::ExitCode {
    hoist::cli::host_cli::main()
}

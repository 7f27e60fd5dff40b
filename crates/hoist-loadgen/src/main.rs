//! The `hoist-loadgen` binary.

fn main() -> std::process::ExitCode {
    hoist_loadgen::cli::main()
}
